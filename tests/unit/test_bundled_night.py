"""The bundled night (streams/data/mn-2024-general.jsonl.gz) as `votewire replay` sends it.

Each line's bytes go through the worker's decoder, as they would off the topic; keeping each
county's highest-seq report must give the official result (tests/fixtures/README.md). And the
file must be exactly what the adapter makes of the archive today, so its README's regenerate
command is the truth.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from streams import contract
from streams.adapters import mn_sos
from streams.contract.recording import RecordedLine, RecordingWriter
from streams.errors import SourceError
from tests.support.recordings import read_lines

BUNDLED = Path(__file__).resolve().parents[2] / "streams" / "data" / "mn-2024-general.jsonl.gz"
HARRIS, TRUMP = "cand-0201", "cand-0101"


def sent_records() -> list[contract.PrecinctRecord]:
    lines = [line for line in read_lines(BUNDLED) if isinstance(line, RecordedLine)]
    records = []
    for line in lines:
        if line.topic == contract.PRECINCT_RESULTS:
            record = contract.decode_precinct_record(line.value)
            assert record.key == line.key
            assert record.refused == []
            records.append(record)
    return records


def final_reports(records: list[contract.PrecinctRecord], race_id: str) -> dict[str, contract.PrecinctReport]:
    latest: dict[str, contract.PrecinctReport] = {}
    for record in records:
        for report in record.reports:
            held = latest.get(report.precinct_id)
            if report.race_id == race_id and (held is None or report.seq > held.seq):
                latest[report.precinct_id] = report
    return latest


def test_the_bundled_night_is_polls_that_replay_to_the_official_result() -> None:
    records = sent_records()
    assert (len(records), sum(len(r.reports) for r in records)) == (48, 1227)
    assert {r.key for r in records} == {"2024-11-05/MN"}
    final = final_reports(records, "president").values()
    votes = {c: sum(r.votes.get(c, 0) for r in final) for c in (HARRIS, TRUMP)}
    assert votes == {HARRIS: 1_656_979, TRUMP: 1_519_032}
    assert sum(sum(r.votes.values()) for r in final) == 3_253_920
    assert sum(r.reporting for r in final) == 4_103


def test_the_bundled_night_is_what_the_adapter_makes_of_the_archive(mn_night: Path, tmp_path: Path) -> None:
    errors: list[SourceError] = []
    regenerated = tmp_path / BUNDLED.name  # gzip keeps the file name in its header
    with RecordingWriter(regenerated) as writer:
        for rec in mn_sos.night_records(mn_night, errors.append):
            writer.write(rec)
    assert errors == []
    if regenerated.read_bytes() != BUNDLED.read_bytes():
        pytest.fail("streams/data/mn-2024-general.jsonl.gz is stale: regenerate it (streams/data/README.md)")
