"""Producing `state-poll/1` and `precinct-batch/1`: a feed's reports as few records as fit.

A feed delivers a state at a time (one poll, one file); sending what it delivered as one record
costs one Kafka record instead of hundreds, which is what a worker pays for (docs/CONTRACT.md,
`state-poll/1` and `precinct-batch/1`). A poll carries every race of one state and mode, a
batch one race. Either must stay under the 1 MiB record limit, so a long list is split into
consecutive records, keeping the reports' order (a poll between races or within a race's
reports): applying the records one after another is applying the reports one after another.
Every record is keyed by its state (design rule 3, `record_key`).

Used by the adapters and the simulator alike; it knows only the contract.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson

from streams.contract import (
    MAX_PAYLOAD_BYTES,
    PRECINCT_BATCH_SCHEMA,
    PRECINCT_RESULT_SCHEMA,
    STATE_POLL_SCHEMA,
    state_key,
)
from streams.contract.validation import MAX_BATCH_REPORTS
from streams.errors import InvalidRecord

# The fields a batch states once for all its reports (and `schema`, which differs); a poll
# states all but `race_id`, which each race entry states.
ENVELOPE_FIELDS = ("election_id", "race_id", "state", "mode")
POLL_FIELDS = ("election_id", "state", "mode")
_LEFT_OUT = frozenset((*ENVELOPE_FIELDS, "schema"))


def poll_records(reports: Sequence[Mapping[str, Any]], max_bytes: int = MAX_PAYLOAD_BYTES) -> Iterator[dict[str, Any]]:
    """`state-poll/1` values for `reports` (whole `precinct-result/1` dicts of ONE election, state
    and mode, any races, in the order they must be applied): consecutive reports of a race share
    a race entry. Each value is at most `max_bytes` as orjson writes it and holds at most
    `MAX_BATCH_REPORTS` reports. Nothing for no reports; `InvalidRecord` (`too_large`) for a
    report too large to fit even alone."""
    if not reports:
        return
    envelope = poll_envelope(reports[0])
    empty = len(orjson.dumps({**envelope, "races": []}))
    races: list[dict[str, Any]] = []
    size, count = empty, 0
    for report in reports:
        element = _element(report, envelope, POLL_FIELDS, "a poll holds one election, state and mode")
        race_id = report["race_id"]
        added = _poll_bytes(races, race_id, element)
        if races and (size + added > max_bytes or count == MAX_BATCH_REPORTS):
            yield {**envelope, "races": races}
            races, size, count = [], empty, 0
            added = _poll_bytes(races, race_id, element)
        _check_fits(report, "poll", size + added, max_bytes)
        if races and races[-1]["race_id"] == race_id:
            races[-1]["reports"].append(element)
        else:
            races.append({"race_id": race_id, "reports": [element]})
        size, count = size + added, count + 1
    yield {**envelope, "races": races}


def _poll_bytes(races: list[dict[str, Any]], race_id: str, element: dict[str, Any]) -> int:
    """What `element` adds to a poll whose race entries are `races`: to the last entry when it is
    the same race (a comma and the element), else a new entry (and the comma before it)."""
    if races and races[-1]["race_id"] == race_id:
        return len(orjson.dumps(element)) + 1
    return len(orjson.dumps({"race_id": race_id, "reports": [element]})) + (1 if races else 0)


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
        _check_fits(report, "batch", size + added, max_bytes)
        elements.append(element)
        size += added
    yield {**envelope, "reports": elements}


def _check_fits(report: Mapping[str, Any], record: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise InvalidRecord(f"the report of {report.get('precinct_id')!r} makes a {record} of {size} "
                            f"bytes even alone, over the {max_bytes}-byte limit", "too_large")


def poll_envelope(report: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a report's poll carries: its election, state and mode (`live` by default)."""
    return {"schema": STATE_POLL_SCHEMA, "election_id": report["election_id"], "state": report["state"],
            "mode": report.get("mode", "live")}


def batch_envelope(report: Mapping[str, Any]) -> dict[str, Any]:
    """The batch fields a report's batch carries: its race, state and mode (`live` by default)."""
    return {"schema": PRECINCT_BATCH_SCHEMA, "election_id": report["election_id"], "race_id": report["race_id"],
            "state": report["state"], "mode": report.get("mode", "live")}


def batch_element(report: Mapping[str, Any], envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The report without the fields its batch states; ValueError when it is another race's."""
    return _element(report, envelope, ENVELOPE_FIELDS, "a batch holds one race, state and mode")


def _element(report: Mapping[str, Any], envelope: Mapping[str, Any], fields: tuple[str, ...],
             holds: str) -> dict[str, Any]:
    """The report without what its record states (`fields` must agree with the envelope's)."""
    for name in fields:
        if report.get(name, "live" if name == "mode" else None) != envelope[name]:
            raise ValueError(f"{holds} ({'/'.join(str(envelope[f]) for f in fields)}); "
                             f"the report of {report.get('precinct_id')!r} has {name} {report.get(name)!r}")
    return {name: value for name, value in report.items() if name not in _LEFT_OUT}


def record_key(value: Mapping[str, Any]) -> str:
    """The record key of a poll, a batch or a report: its state, `{election_id}/{state}` (design rule 3)."""
    return state_key(value["election_id"], value["state"])


def record_reports(value: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A poll or a batch back as its whole `precinct-result/1` reports, in order (for one report
    per record); a single report as itself."""
    if value.get("schema") == STATE_POLL_SCHEMA:
        envelope = {"schema": PRECINCT_RESULT_SCHEMA, **{name: value[name] for name in POLL_FIELDS if name in value}}
        return [{**envelope, "race_id": race["race_id"], **element}
                for race in value["races"] for element in race["reports"]]
    if value.get("schema") == PRECINCT_BATCH_SCHEMA:
        envelope = {"schema": PRECINCT_RESULT_SCHEMA, **{name: value[name] for name in ENVELOPE_FIELDS
                                                        if name in value}}
        return [{**envelope, **element} for element in value["reports"]]
    return [dict(value)]
