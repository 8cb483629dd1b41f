"""Baselines: the message both ways, and what each loader and `votewire baseline` make of real files."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.adapters.baselines import from_openelections
from streams.cli import main
from streams.contract.recording import OutRecord, RecordingWriter
from streams.errors import InvalidRecord, SourceError
from streams.model.baselines import Baseline, UnitBaseline, decode_baseline, parse_baseline, party_code
from streams.model.sources import Target, from_recording, from_us_county_president

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
MN_NIGHT = ROOT / "streams" / "data" / "mn-2024-general.jsonl.gz"
MN_2020 = ROOT / "streams" / "data" / "us-county-president" / "2020-MN.csv"
DE_2020_COUNTY = FIXTURES / "openelections" / "20201103__de__general__county.csv"
TARGET = Target("2024-11-05", "president")


def test_a_baseline_survives_its_message_and_back() -> None:
    units = {"27053-0001": UnitBaseline(1200, {"DEM": 700, "REP": 450}, 1500, "27053"),
             "27053-0002": UnitBaseline(10, {"DEM": 0, "REP": 10})}
    baseline = Baseline("2024-11-05", "president", "MN", "2020-11-03", units, 3, "2024-11-05T00:00:00Z", "test")
    assert decode_baseline(orjson.dumps(baseline.to_message())) == baseline
    assert baseline.key == "2024-11-05/president/MN"


def test_parties_of_one_name_or_another_are_one_party() -> None:
    assert [party_code(p) for p in ("DFL", "D", "Democratic", "GOP", "R", "rep", "WTP")] == \
        ["DEM", "DEM", "DEM", "REP", "REP", "REP", "WTP"]
    message = {"schema": "baseline/1", "election_id": "e", "race_id": "r", "state": "MN",
               "baseline_election_id": "p", "seq": 0, "issued_at": "2024-11-05T00:00:00Z",
               "parties": ["DFL", "DEM", "R"], "units": {"u": [100, 30, 20, 40]}}
    assert parse_baseline(message).units["u"].party_votes == {"DEM": 50, "REP": 40}


def test_a_bad_row_names_its_unit() -> None:
    message = {"schema": "baseline/1", "election_id": "e", "race_id": "r", "state": "MN",
               "baseline_election_id": "p", "seq": 0, "issued_at": "2024-11-05T00:00:00Z",
               "parties": ["DEM"], "units": {"27001": [100, 1.5]}}
    with pytest.raises(InvalidRecord, match=r"units\.27001\[1\] is 1.5, counts must be written as integers"):
        parse_baseline(message)


def test_minnesota_2020_by_county_is_the_published_result() -> None:
    [mn] = from_us_county_president(MN_2020, Target("2024-11-05", "president", "MN"))
    assert (mn.state, mn.baseline_election_id, len(mn.units)) == ("MN", "2020-11-03", 87)
    # The shared data's README: Minnesota 2020, 3,277,171 votes in 87 counties.
    assert sum(u.total_votes for u in mn.units.values()) == 3_277_171
    assert mn.units["27053"].party_votes["DEM"] > mn.units["27053"].party_votes["REP"]  # Hennepin


def test_the_2016_file_with_its_own_columns_reads_the_same_way() -> None:
    [de] = from_us_county_president(FIXTURES / "us-county-president" / "2016-DE.csv", TARGET)
    assert de.baseline_election_id == "2016-11-08"
    assert de.units["10003"] == UnitBaseline(261468, {"DEM": 162905, "REP": 85507})


def test_a_file_not_named_by_its_year_needs_the_election_said(tmp_path: Path) -> None:
    renamed = tmp_path / "counties.csv"
    renamed.write_bytes((FIXTURES / "us-county-president" / "2020-DE.csv").read_bytes())
    with pytest.raises(SourceError, match="--baseline-election-id"):
        from_us_county_president(renamed, TARGET)
    assert from_us_county_president(renamed, TARGET, "2020-11-03")[0].units["10005"].total_votes == 129352


def test_an_openelections_county_file_gives_every_party_its_column() -> None:
    [de] = from_openelections(DE_2020_COUNTY, TARGET)
    assert de.baseline_election_id == "2020-11-03"
    assert de.units["10003"] == UnitBaseline(287633, {"DEM": 195034, "REP": 88364, "GRN": 1282, "LIB": 2953})


def test_a_recording_of_inputs_gives_each_units_last_report() -> None:
    [mn] = from_recording(MN_NIGHT, Target("2028-11-07", "president"))
    assert (mn.election_id, mn.baseline_election_id, len(mn.units)) == ("2028-11-07", "2024-11-05", 87)
    # The certified result (streams/data/README.md): Harris 1,656,979; Trump 1,519,032; 3,253,920.
    assert sum(u.total_votes for u in mn.units.values()) == 3_253_920
    assert sum(u.party_votes["DEM"] for u in mn.units.values()) == 1_656_979
    assert sum(u.party_votes["REP"] for u in mn.units.values()) == 1_519_032


def county_snapshot(fips: str, version: int, harris: int, trump: int) -> dict[str, object]:
    return {"schema": "county-result/1", "election_id": "2024-11-05", "race_id": "president", "state": "DE",
            "mode": "live", "county_fips": fips, "version": version,
            "candidates": [{"candidate_id": "h", "name": "Harris", "party": "DEM", "votes": harris},
                           {"candidate_id": "t", "name": "Trump", "party": "REP", "votes": trump}]}


def test_a_recording_of_county_snapshots_gives_each_countys_latest_version(tmp_path: Path) -> None:
    path = tmp_path / "outputs.jsonl"
    with RecordingWriter(path) as writer:
        for ts, value in enumerate([county_snapshot("10001", 5, 100, 90), county_snapshot("10001", 3, 1, 1),
                                    county_snapshot("10003", 2, 50, 60), county_snapshot("10001", 7, 110, 95)]):
            writer.write(OutRecord(ts, "county-results", f"k{ts}", value))
    [de] = from_recording(path, Target("2028-11-07", "president"))
    assert de.units == {"10001": UnitBaseline(205, {"DEM": 110, "REP": 95}),
                        "10003": UnitBaseline(110, {"DEM": 50, "REP": 60})}


def test_the_command_writes_one_record_per_state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "baselines.jsonl"
    assert main(["baseline", "--from", str(MN_2020), "--kind", "us-county-president", "--election-id",
                 "2024-11-05", "--state", "mn", "--out", str(out)]) == 0
    [line] = out.read_bytes().splitlines()
    record = orjson.loads(line)
    assert (record["topic"], record["key"]) == ("baselines", "2024-11-05/president/MN")
    assert len(decode_baseline(orjson.dumps(record["value"])).units) == 87
    assert "1 records (87 units) written" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["--from", "nowhere.csv", "--kind", "recording", "--election-id", "2024-11-05"], 1,
     "nowhere.csv:file: no such file"),
    (["--from", str(MN_2020), "--kind", "us-county-president", "--election-id", "Nov 5"], 2, "is not a date"),
    (["--from", str(MN_2020), "--kind", "us-county-president", "--election-id", "2024-11-05", "--state", "CA"], 1,
     "no results for race 'president' in CA"),
])
def test_the_command_says_what_is_wrong_in_one_line(argv: list[str], code: int, message: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["baseline", *argv, "--out", str(tmp_path / "x.jsonl")]) == code
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
