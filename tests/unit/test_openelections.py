"""OpenElections adapter, against Delaware's published results (tests/fixtures/openelections)."""

from __future__ import annotations

import argparse
import csv
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams import cli, contract
from streams.adapters import openelections
from streams.contract.recording import OutRecord
from streams.errors import SourceError
from tests.unit.adapter_polls import as_single_reports, polls

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "openelections"
DE_2016 = FIXTURES / "20161108__de__general__precinct.csv"
DE_2020 = FIXTURES / "20201103__de__general__county.csv"


def run_as_sent(*argv: str) -> list[OutRecord]:
    parser = argparse.ArgumentParser()
    openelections.add_arguments(parser)
    return list(openelections.records(parser.parse_args(list(argv))))


def run(*argv: str) -> list[OutRecord]:
    """The records with each batch checked and replaced by its reports (tests/unit/adapter_polls.py)."""
    return as_single_reports(run_as_sent(*argv))


def totals(recs: list[OutRecord], race_id: str) -> Counter[str]:
    total: Counter[str] = Counter()
    for rec in recs:
        if rec.topic == "precinct-results" and rec.value["race_id"] == race_id:
            total.update(rec.value["votes"])
    return total


def test_delaware_2016_president_matches_the_official_result(capsys: pytest.CaptureFixture[str]) -> None:
    recs = run(str(DE_2016))
    assert totals(recs, "president") == {"clinton-h": 235_603, "trump-d": 185_127,
                                         "johnson-g": 14_757, "stein-j": 6_103}
    assert "left out 97 'Total' rows" in capsys.readouterr().err


def test_race_definition_and_units() -> None:
    recs = run(str(DE_2016))
    defs = {r.value["race_id"]: r.value for r in recs if r.topic == "race-definitions"}
    assert {"president", "governor", "us-house", "state-senate-1"} <= set(defs)
    pres = defs["president"]
    assert pres["state"] == "DE"
    assert pres["election_id"] == "2016-11-08"
    assert {c["party"] for c in pres["candidates"]} == {"DEM", "REP", "GRN", "LIB"}
    units = [r.value for r in recs if r.topic == "precinct-results" and r.value["race_id"] == "president"]
    assert pres["precincts_total"] == len(units) == len({u["precinct_id"] for u in units})
    assert {u["county_fips"] for u in units} == {"10001", "10003", "10005"}  # Kent, New Castle, Sussex
    assert all(u["complete"] and u["seq"] == 0 for u in units)
    assert recs[0].topic == "race-definitions"
    assert all(r.key == f"2016-11-08/{r.value['race_id']}/DE" for r in recs if r.topic == "race-definitions")
    assert all(r.key == "2016-11-08/DE" for r in recs if r.topic == "precinct-results")


def test_one_poll_per_file() -> None:
    [poll] = polls(run_as_sent(str(DE_2016)))
    races = [r.value["race_id"] for r in run(str(DE_2016)) if r.topic == "race-definitions"]
    assert [race["race_id"] for race in poll.value["races"]] == races


def de_2020_president() -> Counter[str]:
    votes: Counter[str] = Counter()
    with open(DE_2020, newline="") as f:
        for row in csv.DictReader(f):
            if row["office"] == "President":
                votes[row["party"]] += int(row["votes"])
    return votes


def test_previous_shares_from_the_2020_county_file() -> None:
    prev = openelections.previous_shares(DE_2020, "president")
    votes = de_2020_president()
    assert prev["election_id"] == "2020-11-03"
    assert prev["shares"]["DEM"] == round(100 * votes["DEM"] / votes.total(), 2)  # Biden 58.78
    assert prev["shares"]["REP"] == round(100 * votes["REP"] / votes.total(), 2)
    assert set(prev["shares"]) == {"DEM", "REP", "GRN", "LIB"}


def test_previous_is_attached_to_the_matching_race() -> None:
    recs = run(str(DE_2016), "--previous", str(DE_2020))
    defs = {r.value["race_id"]: r.value for r in recs if r.topic == "race-definitions"}
    assert defs["president"]["previous"][0]["election_id"] == "2020-11-03"
    assert "previous" not in defs["state-assembly-1"]  # no 2020 state house rows in that file


def test_county_file_units_are_counties() -> None:
    recs = run(str(DE_2020))
    units = [r.value for r in recs if r.topic == "precinct-results" and r.value["race_id"] == "president"]
    assert sorted(u["precinct_id"] for u in units) == ["10001", "10003", "10005"]
    assert sum(sum(u["votes"].values()) for u in units) == de_2020_president().total()


def bad_copy(tmp_path: Path) -> Path:
    lines = DE_2016.read_text().splitlines()
    lines[2] = lines[2].replace(",68", ",sixty-eight")  # Trump in 01-01: line 3 of the file
    lines[4] = "New Castle,01-01"  # a short row: line 5
    path = tmp_path / DE_2016.name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_bad_rows_name_file_and_line_and_good_rows_are_kept(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = bad_copy(tmp_path)
    recs = run(str(path))
    err = capsys.readouterr().err
    assert f"{path}:line 3: votes is 'sixty-eight'" in err
    assert f"{path}:line 5: no 'votes' field (short row)" in err
    pres = totals(recs, "president")
    assert pres["clinton-h"] == 235_603
    assert pres["trump-d"] == 185_127 - 68
    assert pres["johnson-g"] == 14_757 - 12


def test_strict_raises_at_the_first_bad_row(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="line 3"):
        run(str(bad_copy(tmp_path)), "--strict")


def test_file_without_date_and_state_needs_them(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    path.write_text("county,office,district,party,candidate,votes\nKent,President,,DEM,Biden,10\n")
    with pytest.raises(SourceError, match="--election-id and --state"):
        run(str(path))
    recs = run(str(path), "--election-id", "2020-11-03", "--state", "DE", "--at", "2020-11-04T05:00:00Z")
    assert recs[-1].value["reported_at"] == "2020-11-04T05:00:00Z"
    assert recs[-1].ts_ms == 1604466000000


def ingest(tmp_path: Path, name: str, *flags: str) -> list[dict[str, Any]]:
    out = tmp_path / name
    assert cli.main(["ingest", "openelections", str(DE_2016), "--out", str(out), "--no-progress", *flags]) == 0
    return [orjson.loads(line) for line in out.read_bytes().splitlines()]


@pytest.mark.parametrize(("flag", "schema"), [("--per-race", "precinct-batch/1"), ("--single", "precinct-result/1")])
def test_ingest_writes_polls_and_per_race_or_single_write_the_same_reports(tmp_path: Path, flag: str,
                                                                           schema: str) -> None:
    polled, other = ingest(tmp_path, "polls.jsonl"), ingest(tmp_path, "other.jsonl", flag)
    results = [line for line in polled if line["topic"] == "precinct-results"]
    assert {line["value"]["schema"] for line in results} == {"state-poll/1"}
    records = [line for line in other if line["topic"] == "precinct-results"]
    assert {line["value"]["schema"] for line in records} == {schema}
    assert {line["key"] for line in results + records} == {"2016-11-08/DE"}

    def reports(lines: list[dict[str, Any]]) -> list[contract.PrecinctReport]:
        return [r for line in lines for r in contract.decode_precinct_record(orjson.dumps(line["value"])).reports]

    assert reports(records) == reports(results)
    assert [line for line in other if line["topic"] != "precinct-results"] == [
        line for line in polled if line["topic"] != "precinct-results"]
