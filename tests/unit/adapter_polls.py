"""For the adapters' tests: the polls they emit, checked against the contract, seen as single reports.

The adapters emit `state-poll/1` records; their tests check units and official totals report by
report. `as_single_reports` checks every poll first (under 1 MiB, keyed by its state, nothing in
it refused, and the same reports as its elements sent alone), then gives the records with each
poll replaced by its reports, so a dropped, doubled or reordered report still changes the
totals the tests compare.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from streams import contract
from streams.adapters.base import one_report_per_record
from streams.contract.recording import OutRecord


def as_single_reports(records: Iterable[OutRecord]) -> list[OutRecord]:
    records = list(records)
    for rec in records:
        if rec.topic == contract.PRECINCT_RESULTS:
            check_poll(rec)
    return list(one_report_per_record(records))


def check_poll(rec: OutRecord) -> None:
    assert rec.value["schema"] == contract.STATE_POLL_SCHEMA
    raw = orjson.dumps(rec.value)
    assert len(raw) <= contract.MAX_PAYLOAD_BYTES
    poll = contract.decode_precinct_record(raw)
    assert poll.refused == []
    assert poll.key == rec.key == contract.state_key(rec.value["election_id"], rec.value["state"])
    alone = [contract.decode_precinct_record(orjson.dumps(single.value)).reports[0]
             for single in one_report_per_record([rec])]
    assert poll.reports == alone


def polls(records: Iterable[OutRecord]) -> list[OutRecord]:
    return [rec for rec in records if rec.topic == contract.PRECINCT_RESULTS]
