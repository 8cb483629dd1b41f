"""AP Elections API adapter, against recorded AP responses (tests/fixtures/ap)."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from streams.adapters import ap
from streams.adapters.base import rfc3339_ms
from streams.contract.recording import OutRecord
from streams.errors import SourceError
from tests.unit.adapter_polls import as_single_reports, polls

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ap"
SUPER_TUESDAY = FIXTURES / "20160301_super_tuesday.json"


def run_as_sent(*argv: str) -> list[OutRecord]:
    parser = argparse.ArgumentParser()
    ap.add_arguments(parser)
    return list(ap.records(parser.parse_args(list(argv))))


def run(*argv: str) -> list[OutRecord]:
    """The records with each batch checked and replaced by its reports (tests/unit/adapter_polls.py)."""
    return as_single_reports(run_as_sent(*argv))


def fixture_totals(path: Path, level: str) -> dict[str, Counter[str]]:
    """raceID -> votes per polID, summed straight from the JSON at one level."""
    totals: dict[str, Counter[str]] = {}
    for race in json.loads(path.read_text())["races"]:
        total = totals.setdefault(race["raceID"], Counter())
        for unit in race["reportingUnits"]:
            if unit["level"] == level:
                for cand in unit["candidates"]:
                    total[cand["polID"]] += cand["voteCount"]
    return totals


def tallied(recs: list[OutRecord]) -> dict[str, Counter[str]]:
    totals: dict[str, Counter[str]] = {}
    for rec in recs:
        if rec.topic == "precinct-results":
            totals.setdefault(rec.value["race_id"], Counter()).update(rec.value["votes"])
    return totals


@pytest.mark.parametrize("level", ["subunit", "state"])
def test_super_tuesday_votes_per_race_and_level(level: str) -> None:
    recs = run(str(SUPER_TUESDAY), "--level", level)
    assert tallied(recs) == fixture_totals(SUPER_TUESDAY, level)
    assert tallied(recs)["24547"]["8639"] == 311313  # Trump, MA GOP primary, statewide


def test_default_is_the_finest_level_so_votes_are_not_doubled() -> None:
    recs = run(str(SUPER_TUESDAY))
    results = [r.value for r in recs if r.topic == "precinct-results"]
    assert {v["precinct_id"].split(":")[0] for v in results} == {"subunit"}
    assert tallied(recs) == fixture_totals(SUPER_TUESDAY, "subunit")
    assert len(results) == 702


def test_one_poll_per_state_per_response_race_by_race_at_its_latest_unit() -> None:
    [poll] = polls(run_as_sent(str(SUPER_TUESDAY)))
    doc = json.loads(SUPER_TUESDAY.read_text())
    assert (poll.key, poll.value["mode"]) == ("2016-03-01/MA", "live")
    assert [race["race_id"] for race in poll.value["races"]] == [str(r["raceID"]) for r in doc["races"]]
    latest = 0
    for race in poll.value["races"]:
        times = [rfc3339_ms(e["reported_at"], "reported_at") for e in race["reports"]]
        assert times == sorted(times)
        latest = max(latest, times[-1])
    assert poll.ts_ms == latest


def test_unit_ids_are_unique_and_keys_follow_the_contract() -> None:
    recs = run(str(SUPER_TUESDAY))
    results = [r for r in recs if r.topic == "precinct-results"]
    ids = Counter((r.value["race_id"], r.value["precinct_id"]) for r in results)
    assert max(ids.values()) == 1
    assert {r.key for r in recs if r.topic == "race-definitions"} == {"2016-03-01/24547/MA", "2016-03-01/24548/MA"}
    assert {r.key for r in results} == {"2016-03-01/MA"}  # design rule 3: precinct results by state
    assert all(r.value["seq"] == 0 and r.value["mode"] == "live" for r in results)
    assert all(len(r.value["county_fips"]) == 5 for r in results)
    ts = [r.ts_ms for r in recs]
    assert ts == sorted(ts)


def test_race_definition_from_the_candidate_list() -> None:
    recs = run(str(SUPER_TUESDAY))
    defs = {r.value["race_id"]: r.value for r in recs if r.topic == "race-definitions"}
    gop = defs["24547"]
    assert gop["office"] == "President (GOP)"
    assert gop["precincts_total"] == 2173  # the subunits' precinctsTotal add up to the state's
    assert {"candidate_id": "8639", "name": "Donald Trump", "party": "GOP", "short_name": "Trump"} in gop["candidates"]
    first_record = recs.index(next(r for r in recs if r.topic == "race-definitions"))
    assert first_record == 0


def test_state_unit_gets_state_fips_000_and_level_in_its_id() -> None:
    recs = run(str(SUPER_TUESDAY), "--level", "state")
    unit = next(r.value for r in recs if r.topic == "precinct-results")
    assert unit["precinct_id"] == "state:MA"
    assert unit["county_fips"] == "25000"
    assert (unit["precincts_reporting"], unit["precincts_total"], unit["complete"]) == (2172, 2173, False)


def test_alaska_subunit_and_obama_romney() -> None:
    recs = run(str(FIXTURES / "20121106_ak_prez.json"))
    unit = next(r.value for r in recs if r.topic == "precinct-results")
    assert unit["votes"] == {"893": 136848, "1918": 102138, "31708": 6131, "895": 2366}
    assert unit["county_fips"] == "02000"
    assert unit["complete"] is True


def test_initialization_file_defines_races_before_results() -> None:
    recs = run(str(FIXTURES / "20151103_national_initialization.json"))
    assert [(r.topic, r.key) for r in recs] == [
        ("race-definitions", "2015-11-03/18525/KY"), ("race-definitions", "2015-11-03/25002/MS")]
    assert recs[0].value["candidates"][0]["name"] == "Matt Bevin"


def test_same_response_twice_emits_nothing_new(tmp_path: Path) -> None:
    assert len(run(str(SUPER_TUESDAY), str(SUPER_TUESDAY))) == 704


def changed(doc: dict[str, Any], tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_a_changed_unit_is_resent_with_a_higher_seq(tmp_path: Path) -> None:
    doc = json.loads(SUPER_TUESDAY.read_text())
    unit = doc["races"][0]["reportingUnits"][1]
    unit["candidates"][0]["voteCount"] -= 10  # a correction downwards
    recs = run(str(SUPER_TUESDAY), str(changed(doc, tmp_path, "later.json")))
    later = recs[704:]
    assert [(r.value["precinct_id"], r.value["seq"]) for r in later] == [("subunit:22001", 1)]
    assert later[0].value["votes"]["8639"] == 1212


def test_test_flag_gives_test_mode(tmp_path: Path) -> None:
    doc = json.loads((FIXTURES / "20121106_ak_prez.json").read_text())
    doc["races"][0]["test"] = True
    recs = run(str(changed(doc, tmp_path, "t.json")))
    assert recs[-1].value["mode"] == "test"


def test_bad_unit_is_reported_and_the_rest_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads(SUPER_TUESDAY.read_text())
    doc["races"][1]["reportingUnits"][5]["candidates"][2]["voteCount"] = -3
    path = changed(doc, tmp_path, "bad.json")
    recs = run(str(path))
    assert len([r for r in recs if r.topic == "precinct-results"]) == 701
    err = capsys.readouterr().err
    assert f"{path}:races[1].reportingUnits[5]: candidates[2]: voteCount is -3" in err
    with pytest.raises(SourceError, match=r"races\[1\]\.reportingUnits\[5\]"):
        run(str(path), "--strict")


def test_not_json_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cut.json"
    path.write_bytes(SUPER_TUESDAY.read_bytes()[:5000])
    assert run(str(path), str(FIXTURES / "20121106_ak_prez.json"))  # the good file still counts
    assert f"{path}:char" in capsys.readouterr().err
