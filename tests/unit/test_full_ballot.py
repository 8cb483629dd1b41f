"""The full-ballot presets: down-ballot contests on the right precincts, an exact truth, and the
spilled (streaming) way of writing a night gives the same bytes as the in-memory one."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from streams import contract
from streams.geo import geography
from streams.simulation import downballot, generate
from tests.unit.test_simulate import decoded, lines, run


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    out = tmp_path_factory.mktemp("full") / "night.jsonl"
    truth = run(out, "--preset", "full-tiny", "--seed", "4", "--malformed", "0.02")
    return lines(out), truth


def race_ids(truth: dict[str, Any], state: str) -> set[str]:
    return {key.split("/")[1] for key in truth["races"] if key.split("/")[2] == state}


def test_the_ballot_holds_house_governor_legislature_measures_and_county_contests(
        night: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
    _, truth = night
    nh = race_ids(truth, "NH")  # NH elected a governor in 2024, and has 2 House seats
    assert {"president", "governor", "house-001", "house-002", "measure-1", "measure-3"} <= nh
    assert any(r.startswith("state-senate-") for r in nh)
    assert any(r.startswith("state-house-") for r in nh)
    assert {"sheriff-33001", "judge-33005", "measure-33003"} <= nh  # 3 counties in this preset
    de = race_ids(truth, "DE")
    assert "house-001" in de
    assert "house-002" not in de
    assert "senate" in de
    assert "senate" not in nh


def test_a_precinct_reports_in_one_district_of_each_kind_and_its_own_county(
        night: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
    recs, _ = night
    seen: dict[tuple[str, str, str], set[str]] = defaultdict(set)  # (state, precinct, kind) -> race ids
    for _, record in decoded(recs):
        for report in record.reports if record is not None else ():
            kind = report.race_id.rsplit("-", 1)[0] if report.race_id[-1].isdigit() else report.race_id
            seen[(report.state, report.precinct_id, kind)].add(report.race_id)
            suffix = report.race_id.rsplit("-", 1)[-1]
            if len(suffix) == 5 and suffix.isdigit():  # a county contest: only that county's precincts
                assert suffix == report.county_fips, report
                assert kind in {contest for contest, _ in downballot.COUNTY_CONTESTS}, report
    for (state, precinct, kind), races in seen.items():
        if kind in ("house", "state-senate", "state-house"):
            assert len(races) == 1, (state, precinct, kind, races)
    by_kind = {kind for (_, _, kind) in seen}
    assert {"house", "state-house", "president"} <= by_kind


def test_final_reports_add_up_to_the_truth_for_every_contest(
        night: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
    recs, truth = night
    latest: dict[str, dict[str, tuple[int, dict[str, int]]]] = defaultdict(dict)
    for _, record in decoded(recs):
        for r in record.reports if record is not None else ():
            key = f"{r.election_id}/{r.race_id}/{r.state}/{r.mode}"
            held = latest[key].get(r.precinct_id)
            if held is None or r.seq > held[0]:
                latest[key][r.precinct_id] = (r.seq, dict(r.votes))
    assert set(latest) == set(truth["races"])
    for key, want in truth["races"].items():
        totals: dict[str, int] = defaultdict(int)
        for _, votes in latest[key].values():
            for candidate, n in votes.items():
                totals[candidate] += n
        assert dict(totals) == want["votes"], key
        assert len(latest[key]) == want["precincts_total"], key


def test_definitions_name_the_office_and_the_district_precincts(
        night: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
    recs, truth = night
    definitions = {r["key"]: r["value"] for r in recs if r["topic"] == contract.RACE_DEFINITIONS}
    house = definitions["2024-11-05/house-001/DE"]
    assert house["office"] == "U.S. House, At Large"
    assert [c["candidate_id"] for c in house["candidates"]] == ["dem", "rep"]
    measure = definitions["2024-11-05/measure-2/NH"]
    assert [c["name"] for c in measure["candidates"]] == ["Yes", "No"]
    assert house["precincts_total"] == truth["races"]["2024-11-05/house-001/DE/live"]["precincts_total"]


def test_spilled_night_is_byte_for_byte_the_in_memory_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spilled = dataclasses.replace(generate.PRESETS["full-tiny"], spill=True)
    monkeypatch.setitem(generate.PRESETS, "full-tiny-spilled", spilled)
    for jobs in ("1", "2"):
        kept = run(tmp_path / "memory.jsonl.gz", "--preset", "full-tiny", "--seed", "5", "--jobs", jobs)
        streamed = run(tmp_path / "spilled.jsonl.gz", "--preset", "full-tiny-spilled", "--seed", "5", "--jobs", jobs)
        assert (tmp_path / "memory.jsonl.gz").read_bytes() == (tmp_path / "spilled.jsonl.gz").read_bytes()
        assert {k: v for k, v in kept.items() if k != "preset"} == {k: v for k, v in streamed.items() if k != "preset"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".simulate-")], "scratch files left behind"


def test_full_preset_is_about_ten_million_reports_by_its_layout() -> None:
    """Counted from the ballot, not simulated (that takes minutes): precinct-contests times the
    reports per precinct-contest that the simulated nights show (~3.2)."""
    contests = 0
    for state, counties, precincts in generate.layout(generate.PRESETS["full"]):
        races = generate.ballot(generate.PRESETS["full"], state, counties, precincts, {})
        for race in races:
            if race.county_fips is not None:
                contests += precincts / counties  # on average
            else:
                contests += precincts / race.districts
    assert 9_000_000 < contests * 3.2 < 11_000_000, contests
    assert len(downballot.HOUSE_SEATS) == len(geography.STATES) == len(downballot.CHAMBERS)
    assert sum(downballot.HOUSE_SEATS.values()) == 436  # 435 and DC's delegate

