"""The printed numbers: shares, percent of expected vote counted, readout, swing, snapshots, version.

Expected figures here are worked out by hand from the counts given (see the comments), never
taken from the code under test.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import pytest

from streams.contract import Candidate, ExpectedVote, PrecinctReport, PreviousResult, RaceDefinition, TallyKey
from streams.counting.figures import (
    CandidateFigures,
    embargoed,
    expected_vote_for,
    out_of_reach,
    pct_expected_counted,
    readout,
    share,
    snapshot_version,
    swing,
)
from streams.counting.snapshots import county_snapshot, state_snapshot
from streams.counting.tally import RaceTally

T0 = 1_730_854_800_000
CA = TallyKey("2024-11-05", "president", "CA", "live")
CANDIDATES = (
    Candidate("harris", "Kamala D. Harris", "DEM"),
    Candidate("trump", "Donald J. Trump", "REP"),
    Candidate("stein", "Jill Stein", "GRN"),
)
DEFINITION = RaceDefinition("2024-11-05", "president", "CA", "U.S. President", CANDIDATES, 20_000,
                            "2024-11-06T04:00:00Z", T0, certified=False)


def report(precinct: str, votes: dict[str, int], county: str = "06037", seq: int = 0, **kw: Any) -> PrecinctReport:
    fields: dict[str, Any] = {"complete": True} | kw
    return PrecinctReport("2024-11-05", "president", "CA", county, precinct, seq, "2024-11-06T07:00:00Z",
                          T0 + 3_600_000, votes, **fields)


def estimate(statewide: int | None, counties: dict[str, int] | None = None, seq: int = 0) -> ExpectedVote:
    return ExpectedVote("2024-11-05", "president", "CA", statewide, counties or {}, seq, "2024-11-06T06:00:00Z", T0)


def row(name: str, votes: int, pct: float) -> CandidateFigures:
    return CandidateFigures(name.lower(), name, "", votes, pct, name)


@pytest.mark.parametrize(
    ("part", "total", "pct"),
    [
        (1, 3, 33.3),
        (2, 3, 66.7),
        (0, 0, 0.0),
        (5, 0, 0.0),
        (1225, 10_000, 12.3),  # a tie: half away from zero (round(12.25, 1) gives 12.2)
        (1235, 10_000, 12.4),
        (1, 2000, 0.1),  # 0.05 goes up
        (1, 2001, 0.0),
        (7, 7, 100.0),
    ],
)
def test_share_is_one_decimal_half_away_from_zero(part: int, total: int, pct: float) -> None:
    assert share(part, total) == pct


def test_expected_vote_prefers_the_statewide_figure() -> None:
    assert expected_vote_for(estimate(1000, {"06037": 5}), ["06001"]) == 1000


def test_expected_vote_sums_counties_only_when_they_cover_every_reported_county() -> None:
    by_county = estimate(None, {"06037": 600, "06001": 400})
    assert expected_vote_for(by_county, ["06037"]) == 1000
    assert expected_vote_for(by_county, ["06037", "06001"]) == 1000
    assert expected_vote_for(by_county, ["06037", "06075"]) is None
    assert expected_vote_for(estimate(None, {}), []) is None
    assert expected_vote_for(None, ["06037"]) is None


@pytest.mark.parametrize(
    ("total", "expected", "certified", "pct"),
    [
        (762, 1000, False, 76.2),
        (995, 1000, False, 99.0),  # 99.5, capped until certified
        (1000, 1000, False, 99.0),
        (1200, 1000, False, 99.0),
        (995, 1000, True, 99.5),
        (1010, 1000, True, 101.0),  # more than expected: shown, not hidden
        (5, None, False, None),
        (0, None, True, None),
    ],
)
def test_pct_expected_counted(total: int, expected: int | None, certified: bool, pct: float | None) -> None:
    assert pct_expected_counted(total, expected, certified) == pct


def test_the_california_readout() -> None:
    tally = RaceTally(CA)
    # 6,104,321 / 10,363,133 = 58.904%; 3,948,812 / 10,363,133 = 38.104%;
    # 10,363,133 / 13,600,000 = 76.2% of the expected vote.
    tally.apply(report("la-1", {"harris": 4_000_000, "trump": 2_000_000, "stein": 110_000}))
    tally.apply(report("kern-1", {"harris": 2_104_321, "trump": 1_948_812, "stein": 200_000}, county="06029"))
    snap = state_snapshot(tally, DEFINITION, estimate(13_600_000))
    assert snap["readout"] == "Harris 58.9% · Trump 38.1% · 76% of expected vote counted"
    assert snap["pct_expected_counted"] == 76.2


def test_the_readout_falls_back_to_precincts_reporting() -> None:
    tally = RaceTally(CA)
    # 12,200 of 20,000 precincts = 61.0%
    tally.apply(report("la", {"harris": 589, "trump": 381, "stein": 30}, precincts_reporting=12_200))
    snap = state_snapshot(tally, DEFINITION, None)
    assert snap["readout"] == "Harris 58.9% · Trump 38.1% · 61% of precincts reporting"


@pytest.mark.parametrize(
    ("ranked", "counted", "precincts", "text"),
    [
        ([row("Harris", 769, 76.9), row("Trump", 231, 23.1)], 76.9, None,
         "Harris 76.9% · Trump 23.1% · 76% of expected vote counted"),  # floored, never rounded up
        ([row("Klobuchar", 10, 100.0)], 12.0, None, "Klobuchar 100.0% · 12% of expected vote counted"),
        ([row("Harris", 0, 0.0), row("Trump", 0, 0.0)], None, 0.0, "No votes counted yet · 0% of precincts reporting"),
        ([], None, None, "No votes counted yet"),
        ([row("Harris", 5, 100.0), row("Trump", 0, 0.0)], 99.0, 61.5, "Harris 100.0% · 99% of expected vote counted"),
    ],
)
def test_readout_edges(ranked: list[CandidateFigures], counted: float | None, precincts: float | None,
                       text: str) -> None:
    assert readout(ranked, counted, precincts) == text


MN_PREVIOUS = (
    PreviousResult("2016-11-08", {"DEM": 46.44, "REP": 44.92}),
    PreviousResult("2020-11-03", {"DEM": 52.40, "REP": 45.28}),
)


def test_swing_against_minnesota_2020() -> None:
    # DEM 50.92 - 52.40 = -1.48 -> -1.5 ; REP 46.68 - 45.28 = +1.40 -> 1.4 (2016 is older, ignored)
    assert swing({"DEM": 50.92, "REP": 46.68, "LIB": 1.1}, MN_PREVIOUS) == {"DEM": -1.5, "REP": 1.4}


def test_swing_rounds_decimal_ties_away_from_zero() -> None:
    # 52.40 - 50.95 is 1.45 in decimal but 1.4499999999999957 in binary floats
    assert swing({"DEM": 52.40, "REP": 50.95}, [PreviousResult("2020", {"DEM": 50.95, "REP": 52.40})]) == {
        "DEM": 1.5, "REP": -1.5}


def test_swing_is_null_without_anything_to_compare() -> None:
    assert swing({"DEM": 50.0}, ()) is None
    assert swing({}, MN_PREVIOUS) is None
    assert swing({"GRN": 3.0}, MN_PREVIOUS) is None


def test_a_minnesota_snapshot_carries_swing_from_its_own_votes() -> None:
    mn = RaceTally(TallyKey("2024-11-05", "president", "MN", "live"))
    mn.apply(report("p1", {"harris": 5092, "trump": 4668, "oliver": 240}, county="27053"))
    definition = dataclasses.replace(DEFINITION, state="MN", previous=MN_PREVIOUS)
    assert state_snapshot(mn, definition, None)["swing"] == {"DEM": -1.5, "REP": 1.4}


@pytest.mark.parametrize(
    ("margin", "remaining", "expected"),
    [(101, 100, True), (100, 100, False), (5, 0, True), (5, -3, False), (0, 0, False), (10**6, None, False)],
)
def test_out_of_reach(margin: int, remaining: int | None, expected: bool) -> None:
    assert out_of_reach(margin, remaining) is expected


STATE_FIELDS = {
    "schema", "election_id", "race_id", "state", "mode", "version", "as_of", "candidates", "total_votes", "leader",
    "margin_votes", "margin_pct", "expected_votes", "pct_expected_counted", "votes_remaining", "precincts_reporting",
    "precincts_total", "pct_precincts_reporting", "swing", "out_of_reach", "certified", "readout",
    # added with "where the vote is left" (additive: see the schemas)
    "office", "votes_outstanding", "trailer", "needs_pct_of_remaining", "needs_readout", "counties_outstanding",
    # added with race calls, runoffs and multi-seat races (issue 21; additive)
    "call", "tabulation_status", "win_threshold", "uncontested", "seats", "leaders", "seat_margin_votes",
    "seat_margin_pct",
    # added with the model of the vote still out (issue 20): null without an estimate
    "expected_vote_source", "model_expected_votes", "model_expected_range", "model_votes_remaining",
    "model_votes_remaining_range", "model_units_used", "model_units_outstanding", "model_units_unmatched",
    "model_baseline_election_id", "model_note",
}
# The model's figures are the race's, on the state snapshot only (streams.counting.projection).
MODEL_ONLY_STATE = {f for f in STATE_FIELDS if f.startswith("model_")}


def test_a_state_snapshot_has_every_field_of_the_contract() -> None:
    tally = RaceTally(CA._replace(mode="test"))
    tally.apply(report("p1", {"trump": 40, "harris": 55, "write-in-9": 5}))
    snap = state_snapshot(tally, DEFINITION, estimate(90))
    assert set(snap) == STATE_FIELDS
    assert snap["schema"] == "state-result/1"
    assert snap["mode"] == "test"
    assert snap["as_of"] == "2024-11-06T07:00:00Z"
    unprojected = {"projected_pct": None, "projected_pct_range": None}  # no baseline, so no model
    assert snap["candidates"] == [
        {"candidate_id": "harris", "name": "Kamala D. Harris", "party": "DEM", "votes": 55, "pct": 55.0, **unprojected},
        {"candidate_id": "trump", "name": "Donald J. Trump", "party": "REP", "votes": 40, "pct": 40.0, **unprojected},
        {"candidate_id": "write-in-9", "name": "write-in-9", "party": "", "votes": 5, "pct": 5.0, **unprojected},
        {"candidate_id": "stein", "name": "Jill Stein", "party": "GRN", "votes": 0, "pct": 0.0, **unprojected},
    ]
    assert (snap["total_votes"], snap["leader"], snap["margin_votes"], snap["margin_pct"]) == (100, "harris", 15, 15.0)
    # 100 counted of 90 expected: -10 remaining, said as it is; 111.1% is capped at 99.0
    assert (snap["expected_votes"], snap["votes_remaining"], snap["pct_expected_counted"]) == (90, -10, 99.0)
    assert snap["out_of_reach"] is False  # votes_remaining < 0 is not "out of reach"
    assert (snap["precincts_reporting"], snap["precincts_total"], snap["pct_precincts_reporting"]) == (1, 20_000, 0.0)
    assert snap["certified"] is False
    assert snap["swing"] is None


def test_a_tie_has_no_leader_and_candidates_sort_by_id() -> None:
    tally = RaceTally(CA)
    tally.apply(report("p1", {"trump": 50, "harris": 50}))
    snap = state_snapshot(tally, DEFINITION, None)
    assert snap["leader"] is None
    assert snap["margin_votes"] == 0
    assert [c["candidate_id"] for c in snap["candidates"]] == ["harris", "trump", "stein"]
    assert snap["expected_votes"] is None
    assert snap["votes_remaining"] is None


def test_out_of_reach_in_a_snapshot() -> None:
    tally = RaceTally(CA)
    tally.apply(report("p1", {"harris": 700, "trump": 250}))  # margin 450 > 1000 - 950 = 50 remaining
    snap = state_snapshot(tally, dataclasses.replace(DEFINITION, certified=True), estimate(1000))
    assert (snap["out_of_reach"], snap["votes_remaining"], snap["pct_expected_counted"]) == (True, 50, 95.0)


def test_a_county_snapshot_uses_its_own_units_and_expected_vote() -> None:
    tally = RaceTally(CA)
    tally.apply(report("06037", {"harris": 300, "trump": 100}, complete=False,
                       precincts_reporting=30, precincts_total=40))
    tally.apply(report("06029", {"harris": 10, "trump": 90}, county="06029", precincts_reporting=5))
    snap = county_snapshot(tally, "06037", DEFINITION, estimate(5000, {"06037": 500, "06029": 100}))
    # A race's call and status are the state snapshot's alone, and so are the model's figures;
    # the seats are in both.
    state_only = {"counties_outstanding", "call", "tabulation_status", "win_threshold", "uncontested",
                  *MODEL_ONLY_STATE}
    assert set(snap) == STATE_FIELDS - state_only | {"county_fips"}
    assert snap["schema"] == "county-result/1"
    assert snap["county_fips"] == "06037"
    assert snap["total_votes"] == 400
    assert (snap["expected_votes"], snap["pct_expected_counted"], snap["votes_remaining"]) == (500, 80.0, 100)
    assert (snap["precincts_reporting"], snap["precincts_total"], snap["pct_precincts_reporting"]) == (30, 40, 75.0)
    assert snap["readout"] == "Harris 75.0% · Trump 25.0% · 80% of expected vote counted"
    assert snap["swing"] is None
    other = county_snapshot(tally, "06029", DEFINITION, estimate(5000, {"06037": 500}))
    assert (other["expected_votes"], other["precincts_total"], other["pct_precincts_reporting"]) == (None, None, None)
    assert other["readout"] == "Trump 90.0% · Harris 10.0%"


def test_the_version_rises_with_every_change_and_survives_a_restore() -> None:
    tally = RaceTally(CA)
    definition, expected = DEFINITION, None
    versions = [snapshot_version(tally.seq_sum, expected, definition)]
    steps: list[Any] = [report("p1", {"harris": 1}), report("p2", {"trump": 1}), estimate(10, seq=0),
                        report("p1", {"harris": 0}, seq=1), dataclasses.replace(DEFINITION, revision=7),
                        estimate(12, seq=3), report("p2", {"trump": 2}, seq=5)]
    for step in steps:
        if isinstance(step, PrecinctReport):
            assert tally.apply(step).outcome == "applied"
        elif isinstance(step, ExpectedVote):
            expected = step
        else:
            definition = step
        versions.append(snapshot_version(tally.seq_sum, expected, definition))
    assert all(a < b for a, b in itertools.pairwise(versions))
    tally.apply(report("p2", {"trump": 99}, seq=5))  # a duplicate
    assert snapshot_version(tally.seq_sum, expected, definition) == versions[-1]
    rebuilt = RaceTally(CA)
    for precinct in ("p2", "p1"):
        unit = tally.unit(precinct)
        assert unit is not None
        rebuilt.restore(precinct, unit)
    assert state_snapshot(rebuilt, definition, expected) == state_snapshot(tally, definition, expected)


def test_embargo_by_source_time() -> None:
    assert embargoed(T0 - 1, DEFINITION)
    assert not embargoed(T0, DEFINITION)
    assert embargoed(T0 + 1, None)
    assert embargoed(None, DEFINITION)
