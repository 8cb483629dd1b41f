"""AP Elections API adapter, against recorded AP responses (tests/fixtures/ap)."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams import contract
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
    assert sorted(r.key for r in recs if r.topic == "race-calls") == ["2016-03-01/24547/MA/live",
                                                                       "2016-03-01/24548/MA/live"]
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
    assert len(run(str(SUPER_TUESDAY), str(SUPER_TUESDAY))) == 2 + 702 + 2  # definitions, reports, AP's calls


def changed(doc: dict[str, Any], tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_a_changed_unit_is_resent_with_a_higher_seq(tmp_path: Path) -> None:
    doc = json.loads(SUPER_TUESDAY.read_text())
    unit = doc["races"][0]["reportingUnits"][1]
    unit["candidates"][0]["voteCount"] -= 10  # a correction downwards
    recs = run(str(SUPER_TUESDAY), str(changed(doc, tmp_path, "later.json")))
    later = recs[706:]
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


# --- AP's calls and race rules (streams.adapters.ap_calls) -----------------------------------
#
# The recorded responses carry `winner` ("X") and `incumbent`, and nothing else of a call or a
# race's rules: no `winnerDateTime`, `raceCallStatus`, `tabulationStatus`, `winThreshold`,
# `numWinners` or `uncontested` in any of them. Those are tested on HAND-EDITED copies of the
# Alaska response (`hand_edited`), with the fields added as AP's documentation describes them.

ALASKA = FIXTURES / "20121106_ak_prez.json"


def calls_of(recs: list[OutRecord]) -> list[dict[str, Any]]:
    return [r.value for r in recs if r.topic == "race-calls"]


def test_recorded_alaska_romney_is_called_by_ap_and_obama_is_the_incumbent() -> None:
    recs = run(str(ALASKA))
    [call] = calls_of(recs)
    assert call == {"schema": "race-call/1", "election_id": "2012-11-06", "race_id": "0", "state": "AK",
                    "mode": "live", "status": "called", "winners": ["893"], "by": "AP",
                    "at": "2016-06-24T18:24:19Z", "seq": rfc3339_ms("2016-06-24T18:24:19Z", "at")}
    assert recs[-1].topic == "race-calls"  # after the race's definition and results
    [definition] = [r.value for r in recs if r.topic == "race-definitions"]
    obama = next(c for c in definition["candidates"] if c["candidate_id"] == "1918")
    assert obama["incumbent"] is True
    assert all("incumbent" not in c for c in definition["candidates"] if c["candidate_id"] != "1918")


def test_recorded_super_tuesday_calls_come_from_the_state_unit_not_the_towns() -> None:
    recs = run(str(SUPER_TUESDAY))
    calls = {c["race_id"]: c for c in calls_of(recs)}
    doc = json.loads(SUPER_TUESDAY.read_text())
    town_winners = sum(c.get("winner") == "X" for race in doc["races"] for ru in race["reportingUnits"]
                       if ru["level"] == "subunit" for c in ru["candidates"])
    assert town_winners > 300  # AP marks each town's own leader too: no race call
    assert set(calls) == {"24547", "24548"}
    assert calls["24547"]["winners"] == ["8639"]  # Trump, the statewide winner
    assert all(len(c["winners"]) == 1 and c["status"] == "called" for c in calls.values())


def test_recorded_initialization_has_incumbents_and_no_calls() -> None:
    recs = run(str(FIXTURES / "20151103_national_initialization.json"))
    assert calls_of(recs) == []
    ms = next(r.value for r in recs if r.key == "2015-11-03/25002/MS")
    assert [c["name"] for c in ms["candidates"] if c.get("incumbent")] == ["Phil Bryant"]


def hand_edited(tmp_path: Path, name: str, status: str | None, marks: dict[str, str], **race: Any) -> Path:
    """A HAND-EDITED copy of the Alaska response: `raceCallStatus`, winner marks by polID (with
    `winnerDateTime`) and race fields set as given; the counts are the recording's."""
    doc = json.loads(ALASKA.read_text())
    entry = doc["races"][0]
    entry.update(race)
    if status is not None:
        entry["raceCallStatus"] = status
    for unit in entry["reportingUnits"]:
        for cand in unit["candidates"]:
            cand.pop("winner", None)
            if cand["polID"] in marks and unit["level"] == "state":
                cand["winner"], cand["winnerDateTime"] = marks[cand["polID"]], "2012-11-07T05:30:00Z"
    return changed(doc, tmp_path, name)


def test_hand_edited_a_call_too_close_then_called_then_uncalled(tmp_path: Path) -> None:
    files = [hand_edited(tmp_path, "1.json", "Too Close to Call", {}),
             hand_edited(tmp_path, "2.json", "Called", {"893": "X"}),
             hand_edited(tmp_path, "3.json", "Called", {"893": "X"}),  # the same call: nothing new
             hand_edited(tmp_path, "4.json", "Uncalled", {})]
    calls = calls_of(run(*map(str, files)))
    assert [(c["status"], c["winners"], c["by"]) for c in calls] == [
        ("too_close", [], "AP"), ("called", ["893"], "AP"), ("retracted", [], "AP")]
    assert calls[1]["at"] == "2012-11-07T05:30:00Z"  # the winner's winnerDateTime
    seqs = [c["seq"] for c in calls]
    assert seqs == sorted(set(seqs))  # each replaces the one before


def test_hand_edited_runoff_marks_and_race_rules(tmp_path: Path) -> None:
    path = hand_edited(tmp_path, "runoff.json", "Runoff", {"893": "R", "1918": "R"}, numWinners=1,
                       winThreshold="50", uncontested=False, tabulationStatus="End of AP Tabulation")
    recs = run(str(path))
    [call] = calls_of(recs)
    assert (call["status"], call["winners"]) == ("runoff", ["893", "1918"])
    [definition] = [r.value for r in recs if r.topic == "race-definitions"]
    rules = contract.decode_race_definition(orjson.dumps(definition)).rules  # what the worker reads
    assert (rules.seats, rules.win_threshold, rules.tabulation_status) == (1, 50.0, "counted")
    assert {k: definition[k] for k in ("seats", "win_threshold", "uncontested", "tabulation_status", "certified")} \
        == {"seats": 1, "win_threshold": 50.0, "uncontested": False, "tabulation_status": "counted",
            "certified": False}


def test_hand_edited_vote_certified_certifies_and_an_unmarked_status_makes_no_call(tmp_path: Path) -> None:
    path = hand_edited(tmp_path, "certified.json", "Called", {}, tabulationStatus="Vote Certified", numWinners=2)
    recs = run(str(path))
    assert calls_of(recs) == []  # "Called" with nobody marked yet: not a call to send
    [definition] = [r.value for r in recs if r.topic == "race-definitions"]
    assert (definition["certified"], definition["tabulation_status"], definition["seats"]) == (True, "certified", 2)
