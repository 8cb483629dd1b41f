"""What every source adapter shares: the change tracker, batching, and the small helpers
(`error_sink`, `rfc3339_ms`, `read_fips_map`, `slug`), so that no adapter imports another's.

An adapter reads a source (media files, AP JSON, Clarity XML, CSV) and yields `OutRecord`s
in source-time order: race definitions, expected votes and precinct results of the contract.
It emits a reporting unit only when its counts changed since the unit's previous report, with
a `seq` one higher each time (`UnitTracker`). The reports of one state (and mode) that a poll or
file delivered go out together, every race of it, as a `state-poll/1` record (`precinct_records`,
split only past 1 MiB); `race_batches` turns a poll into one `precinct-batch/1` per race
(`votewire ingest --per-race`) and `one_report_per_record` into single reports (`--single`).
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from streams import contract
from streams.contract.batching import batch_records, poll_records, record_key, record_reports
from streams.contract.recording import OutRecord
from streams.errors import SourceError


@dataclass
class UnitTracker:
    """Remembers each unit's last emitted content; says whether a new one changed, and its seq."""

    _last: dict[str, tuple[int, Any]] = field(default_factory=dict)

    def next_seq(self, unit_id: str, content: Any) -> int | None:
        """The seq to emit for `content`, or None when it equals the unit's last report."""
        last = self._last.get(unit_id)
        if last is not None and last[1] == content:
            return None
        seq = 0 if last is None else last[0] + 1
        self._last[unit_id] = (seq, content)
        return seq


def precinct_records(ts_ms: int, reports: Sequence[Mapping[str, Any]]) -> Iterator[OutRecord]:
    """`reports` (whole `precinct-result/1` values of a poll or a file, any races, in the order
    to apply them) as `state-poll/1` records at `ts_ms`: one per election, state and mode, in the
    order they first appear, or more when one is over 1 MiB."""
    by_state: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for report in reports:
        by_state.setdefault((report["election_id"], report["state"], report.get("mode", "live")), []).append(report)
    for state_reports in by_state.values():
        for poll in poll_records(state_reports):
            yield OutRecord(ts_ms, contract.PRECINCT_RESULTS, record_key(poll), poll)


def race_batches(records: Iterable[OutRecord]) -> Iterator[OutRecord]:
    """The same records with every poll replaced by one `precinct-batch/1` per race entry (more
    past 1 MiB), in order, under the same state key."""
    for rec in records:
        if rec.topic == contract.PRECINCT_RESULTS and rec.value.get("schema") == contract.STATE_POLL_SCHEMA:
            for race in rec.value["races"]:
                reports = record_reports({**rec.value, "races": [race]})
                yield from (OutRecord(rec.ts_ms, rec.topic, rec.key, batch) for batch in batch_records(reports))
        else:
            yield rec


def one_report_per_record(records: Iterable[OutRecord]) -> Iterator[OutRecord]:
    """The same records with every poll or batch replaced by its reports, one record each, in order."""
    for rec in records:
        if rec.topic == contract.PRECINCT_RESULTS and rec.value.get("schema") in (
                contract.STATE_POLL_SCHEMA, contract.PRECINCT_BATCH_SCHEMA):
            yield from (OutRecord(rec.ts_ms, rec.topic, rec.key, report) for report in record_reports(rec.value))
        else:
            yield rec


ErrorSink = Callable[[SourceError], None]


def rfc3339_ms(text: Any, what: str) -> int:
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):  # AttributeError: not a string at all
        raise ValueError(f"{what} is {text!r}, not an RFC 3339 time") from None
    if stamp.tzinfo is None:
        raise ValueError(f"{what} is {text!r}, without a time zone")
    return int(stamp.timestamp() * 1000)


SHOWN_ERRORS = 10  # a source of garbage is one failure, not a screen of it


@dataclass
class SkippedParts:
    """An adapter's error sink: a malformed part of a source is reported on stderr (the first
    `SHOWN_ERRORS`), counted and skipped, so the good parts around it are kept; with `strict`
    it stops the ingest instead."""

    strict: bool
    verb: str
    count: int = 0

    def __call__(self, error: SourceError) -> None:
        if self.strict:
            raise error
        self.count += 1
        if self.count <= SHOWN_ERRORS:
            more = " (further errors: counted only)" if self.count == SHOWN_ERRORS else ""
            print(f"votewire ingest {self.verb}: skipped {error}{more}", file=sys.stderr)


def error_sink(strict: bool, verb: str = "ap") -> SkippedParts:
    return SkippedParts(strict, verb)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower().replace(".", "")).strip("-")  # U.S. -> us


def read_fips_map(path: Path) -> dict[str, str]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return {name.strip(): fips.strip() for name, fips, *_ in csv.reader(f) if fips.strip().isdigit()}
