"""What every source adapter shares: the change tracker, batching, and the small helpers
(`error_sink`, `rfc3339_ms`, `read_fips_map`, `slug`), so that no adapter imports another's.

An adapter reads a source (media files, AP JSON, Clarity XML, CSV) and yields `OutRecord`s
in source-time order: race definitions, expected votes and precinct results of the contract.
It emits a reporting unit only when its counts changed since the unit's previous report, with
a `seq` one higher each time (`UnitTracker`). The reports of one race and state that a poll or
file delivered go out together as `precinct-batch/1` records (`precinct_records`);
`one_report_per_record` turns them back into single reports (`votewire ingest --single`).
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
from streams.contract.batching import batch_key, batch_records, batch_reports
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
    """`reports` (whole `precinct-result/1` values of one race, state and mode, in the order
    to apply them) as `precinct-batch/1` records at `ts_ms`: one, or more when over 1 MiB."""
    for batch in batch_records(reports):
        yield OutRecord(ts_ms, contract.PRECINCT_RESULTS, batch_key(batch), batch)


def one_report_per_record(records: Iterable[OutRecord]) -> Iterator[OutRecord]:
    """The same records with every batch replaced by its reports, one record each, in order."""
    for rec in records:
        if rec.topic == contract.PRECINCT_RESULTS and rec.value.get("schema") == contract.PRECINCT_BATCH_SCHEMA:
            yield from (OutRecord(rec.ts_ms, rec.topic, rec.key, report) for report in batch_reports(rec.value))
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
