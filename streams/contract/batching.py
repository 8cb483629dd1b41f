"""Producing `precinct-batch/1`: the reports of one race, state and mode as few records as fit.

A feed delivers a state's units together (one poll, one file); sending them as one batch
costs one Kafka record instead of hundreds, which is what a worker pays for (docs/CONTRACT.md,
`precinct-batch/1`). A batch must stay under the 1 MiB record limit, so a long list is split
into consecutive batches, keeping the reports' order: applying the batches one after another
is applying the reports one after another.

Used by the adapters and the simulator alike; it knows only the contract.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson

from streams.contract import MAX_PAYLOAD_BYTES, PRECINCT_BATCH_SCHEMA, PRECINCT_RESULT_SCHEMA, race_key
from streams.contract.validation import MAX_BATCH_REPORTS
from streams.errors import InvalidRecord

# The fields a batch states once for all its reports (and `schema`, which differs).
ENVELOPE_FIELDS = ("election_id", "race_id", "state", "mode")
_LEFT_OUT = frozenset((*ENVELOPE_FIELDS, "schema"))


def batch_records(reports: Sequence[Mapping[str, Any]], max_bytes: int = MAX_PAYLOAD_BYTES) -> Iterator[dict[str, Any]]:
    """`precinct-batch/1` values for `reports` (whole `precinct-result/1` dicts of ONE race,
    state and mode, in the order they must be applied), each at most `max_bytes` as orjson
    writes it and of at most `MAX_BATCH_REPORTS` reports. Nothing for no reports. A report too
    large to fit even alone raises `InvalidRecord` (`too_large`): sent, it would only be a dead letter.
    """
    if not reports:
        return
    envelope = batch_envelope(reports[0])
    elements: list[dict[str, Any]] = []
    size = len(orjson.dumps({**envelope, "reports": []}))
    for report in reports:
        element = batch_element(report, envelope)
        # +1: the comma before it, or the difference between `[]` and `[x]` for the first one.
        added = len(orjson.dumps(element)) + (1 if elements else 0)
        if elements and (size + added > max_bytes or len(elements) == MAX_BATCH_REPORTS):
            yield {**envelope, "reports": elements}
            elements, size = [], len(orjson.dumps({**envelope, "reports": []}))
            added -= 1
        if size + added > max_bytes:
            raise InvalidRecord(f"the report of {report.get('precinct_id')!r} makes a batch of {size + added} "
                                f"bytes even alone, over the {max_bytes}-byte limit", "too_large")
        elements.append(element)
        size += added
    yield {**envelope, "reports": elements}


def batch_envelope(report: Mapping[str, Any]) -> dict[str, Any]:
    """The batch fields a report's batch carries: its race, state and mode (`live` by default)."""
    return {"schema": PRECINCT_BATCH_SCHEMA, "election_id": report["election_id"], "race_id": report["race_id"],
            "state": report["state"], "mode": report.get("mode", "live")}


def batch_element(report: Mapping[str, Any], envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The report without the fields its batch states; ValueError when it is another race's."""
    for name in ENVELOPE_FIELDS:
        if report.get(name, "live" if name == "mode" else None) != envelope[name]:
            raise ValueError(f"a batch holds one race, state and mode ({batch_key(envelope)}); "
                             f"the report of {report.get('precinct_id')!r} has {name} {report.get(name)!r}")
    return {name: value for name, value in report.items() if name not in _LEFT_OUT}


def batch_key(batch: Mapping[str, Any]) -> str:
    """The record key of a batch (or of a report): `{election_id}/{race_id}/{state}`."""
    return race_key(batch["election_id"], batch["race_id"], batch["state"])


def batch_reports(batch: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A batch back as its whole `precinct-result/1` reports, in order (for one report per record)."""
    envelope = {"schema": PRECINCT_RESULT_SCHEMA, **{name: batch[name] for name in ENVELOPE_FIELDS if name in batch}}
    return [{**envelope, **element} for element in batch["reports"]]
