"""For the adapters' tests: the batches they emit, checked against the contract, seen as single reports.

The adapters emit `precinct-batch/1` records; their tests check units and official totals
report by report. `as_single_reports` checks every batch first (under 1 MiB, keyed by its
race, nothing in it refused, and the same reports as its elements sent alone), then gives the
records with each batch replaced by its reports, so a dropped, doubled or reordered report
still changes the totals the tests compare.
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
            check_batch(rec)
    return list(one_report_per_record(records))


def check_batch(rec: OutRecord) -> None:
    assert rec.value["schema"] == contract.PRECINCT_BATCH_SCHEMA
    raw = orjson.dumps(rec.value)
    assert len(raw) <= contract.MAX_PAYLOAD_BYTES
    batch = contract.decode_precinct_record(raw)
    assert batch.refused == []
    assert batch.key == rec.key
    alone = [contract.decode_precinct_record(orjson.dumps(single.value)).reports[0]
             for single in one_report_per_record([rec])]
    assert batch.reports == alone


def batches(records: Iterable[OutRecord]) -> list[OutRecord]:
    return [rec for rec in records if rec.topic == contract.PRECINCT_RESULTS]
