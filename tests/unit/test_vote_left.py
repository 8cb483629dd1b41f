"""Where the vote is left: the vote still out, what the trailing candidate needs, the counties
with the most vote still out, and the second readout line.

Every expected figure is worked out by hand in the comments, from the counts the test gives,
never taken from the code under test. The Minnesota test does the same from a real snapshot's
own counts, halfway through the night.
"""

from __future__ import annotations

import dataclasses
import gzip
import itertools
import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator

import streams
from streams import contract
from streams.contract import ExpectedVote, RaceDefinition, TallyKey
from streams.counting.figures import needs_pct_of_remaining, votes_outstanding
from streams.counting.snapshots import counties_outstanding, county_snapshot, state_snapshot
from streams.counting.tally import RaceTally
from tests.unit.test_figures import CA, DEFINITION, estimate, report

MN_NIGHT = Path(streams.__file__).resolve().parent / "data" / "mn-2024-general.jsonl.gz"
CERTIFIED = dataclasses.replace(DEFINITION, certified=True)


@pytest.mark.parametrize(
    ("total", "expected", "certified", "outstanding"),
    [
        (60, 100, False, 40),
        (0, 100, False, 100),  # nothing counted: all of it is out
        (100, 100, False, 0),
        (101, 100, False, None),  # past the estimate: what is left is unknown, never -1
        (50, None, False, None),  # no expected vote
        (50, 100, True, 0),  # certified: the count is final
        (101, 100, True, 0),
        (0, None, True, 0),
    ],
)
def test_votes_outstanding(total: int, expected: int | None, certified: bool, outstanding: int | None) -> None:
    assert votes_outstanding(total, expected, certified) == outstanding


@pytest.mark.parametrize(
    ("margin", "outstanding", "trailer", "needs"),
    [
        (20, 100, "trump", 60.0),  # (100 + 20) / 200
        (0, 100, "trump", 50.0),  # level: half of what is left draws level
        (100, 100, "trump", 100.0),  # all of it, to draw level
        (101, 100, "trump", 100.5),  # (100 + 101) / 200: more than remains
        (1, 3, "trump", 66.7),  # 4 / 6 = 66.67
        (1, 8, "trump", 56.3),  # 9 / 16 = 56.25, half away from zero
        (20, 0, "trump", None),  # nothing left to win
        (20, None, "trump", None),  # no estimate, or the count passed it
        (0, 100, None, None),  # no trailer: a tie for first or no votes
    ],
)
def test_needs_pct_of_remaining(margin: int, outstanding: int | None, trailer: str | None, needs: float | None) -> None:
    assert needs_pct_of_remaining(margin, outstanding, trailer) == needs


def tally_of(*reports: Any) -> RaceTally:
    tally = RaceTally(CA)
    for r in reports:
        tally.apply(r)
    return tally


def vote_left(snap: dict[str, Any]) -> tuple[Any, ...]:
    return (snap["votes_outstanding"], snap["trailer"], snap["needs_pct_of_remaining"], snap["needs_readout"])


def test_the_needs_line_of_a_race_still_counting() -> None:
    # harris 600, trump 400, stein 100 of 2,204,000 expected: 2,202,900 out, margin 200
    snap = state_snapshot(tally_of(report("p1", {"harris": 600, "trump": 400, "stein": 100})), DEFINITION,
                          estimate(2_204_000))
    # (2,202,900 + 200) / 4,405,800 = 50.0045%
    assert vote_left(snap) == (2_202_900, "trump", 50.0,
                               "Trump needs 50.0% of the remaining 2,202,900 expected votes")
    assert snap["office"] == "U.S. President"


def test_the_needs_line_says_out_of_reach_above_100() -> None:
    # harris 700, trump 250 of 1000: 50 out, margin 450: (50 + 450) / 100 = 500%
    snap = state_snapshot(tally_of(report("p1", {"harris": 700, "trump": 250})), DEFINITION, estimate(1000))
    assert vote_left(snap) == (50, "trump", 500.0,
                               "Trump would need 500.0% of the remaining 50 expected votes: out of reach")
    assert snap["out_of_reach"] is True


def test_just_above_100_is_not_printed_as_100() -> None:
    # 1,000,000 out, margin 1,000,001: 100.00005% rounds to 100.0, but it is more than remains.
    # Only Harris has votes: the trailer is the next by id at 0 votes, Stein before Trump.
    snap = state_snapshot(tally_of(report("p1", {"harris": 1_000_001})), DEFINITION, estimate(2_000_001))
    assert snap["needs_pct_of_remaining"] == 100.0
    assert snap["needs_readout"] == ("Stein would need more than all of the remaining 1,000,000 expected votes: "
                                     "out of reach")


def test_nothing_counted_yet() -> None:
    snap = state_snapshot(RaceTally(CA), DEFINITION, estimate(1000, {"06037": 600, "06001": 400}))
    assert vote_left(snap) == (1000, None, None, None)  # no votes: no leader, so no trailer
    assert [c["county_fips"] for c in snap["counties_outstanding"]] == ["06037", "06001"]


def test_a_tie_has_no_trailer() -> None:
    snap = state_snapshot(tally_of(report("p1", {"harris": 50, "trump": 50})), DEFINITION, estimate(1000))
    assert vote_left(snap) == (900, None, None, None)


def test_counted_above_expected_is_not_a_negative_remainder() -> None:
    snap = state_snapshot(tally_of(report("p1", {"harris": 60, "trump": 40})), DEFINITION, estimate(90))
    assert vote_left(snap) == (None, "trump", None,
                               "Counted votes exceed the expected vote by 10: the vote still out is not known")
    assert snap["votes_remaining"] == -10  # the contract's difference, said as it is


def test_no_expected_vote() -> None:
    snap = state_snapshot(tally_of(report("p1", {"harris": 60, "trump": 40})), DEFINITION, None)
    assert vote_left(snap) == (None, "trump", None, None)
    assert snap["counties_outstanding"] == []


def test_certified() -> None:
    snap = state_snapshot(tally_of(report("p1", {"harris": 60, "trump": 40})), CERTIFIED,
                          estimate(1000, {"06037": 1000}))
    assert vote_left(snap) == (0, "trump", None, None)
    assert snap["counties_outstanding"] == []


def test_nothing_left_with_a_leader() -> None:
    snap = state_snapshot(tally_of(report("p1", {"harris": 60, "trump": 40})), DEFINITION, estimate(100))
    assert vote_left(snap) == (0, "trump", None, "Trump trails by 20 votes with no expected vote left: out of reach")


def test_counties_with_the_most_vote_still_out() -> None:
    tally = tally_of(
        report("a", {"harris": 300, "trump": 100}, county="06001"),  # 400 of 500: 100 out, harris +200
        report("b", {"harris": 90, "trump": 110}, county="06003"),  # 200 of 1000: 800 out, trump +20
        report("d", {"harris": 120}, county="06007"),  # 120 of 100: past its estimate, left out
        report("e", {"harris": 5}, county="06009"),  # no estimate of its own: left out
    )
    expected = estimate(None, {"06001": 500, "06003": 1000, "06005": 300, "06007": 100})  # 06005: nothing in yet
    rows = counties_outstanding(tally, DEFINITION, expected)
    assert [(r["county_fips"], r["votes_outstanding"]) for r in rows] == [("06003", 800), ("06005", 300),
                                                                         ("06001", 100)]
    assert rows[0] == {"county_fips": "06003", "votes_outstanding": 800, "expected_votes": 1000, "total_votes": 200,
                       "pct_expected_counted": 20.0, "leader": "trump", "margin_votes": 20, "margin_pct": 10.0,
                       "expected_vote_source": "published"}
    assert rows[1] == {"county_fips": "06005", "votes_outstanding": 300, "expected_votes": 300, "total_votes": 0,
                       "pct_expected_counted": 0.0, "leader": None, "margin_votes": 0, "margin_pct": 0.0,
                       "expected_vote_source": "published"}
    assert [r["county_fips"] for r in counties_outstanding(tally, DEFINITION, expected, limit=2)] == ["06003", "06005"]
    # ties on the vote out go by FIPS
    even = estimate(None, {"06011": 50, "06013": 50})
    assert [r["county_fips"] for r in counties_outstanding(RaceTally(CA), DEFINITION, even)] == ["06011", "06013"]


def test_a_county_snapshot_has_its_own_needs_line_and_no_county_list() -> None:
    tally = tally_of(report("a", {"harris": 300, "trump": 100}, county="06001"))
    snap = county_snapshot(tally, "06001", DEFINITION, estimate(None, {"06001": 500}))
    # 100 out, margin 200: (100 + 200) / 200 = 150%
    assert vote_left(snap) == (100, "trump", 150.0,
                               "Trump would need 150.0% of the remaining 100 expected votes: out of reach")
    assert "counties_outstanding" not in snap
    assert snap["office"] == "U.S. President"


# --- the real night ----------------------------------------------------------------------


def mn_president_at(until: str) -> tuple[RaceTally, RaceDefinition, ExpectedVote]:
    """The bundled Minnesota night's president tally, as every record up to `until` left it."""
    until_ms = contract.parse_time_ms(until, "until")
    tally = RaceTally(TallyKey("2024-11-05", "president", "MN", "live"))
    definition = expected = None
    with gzip.open(MN_NIGHT) as lines:
        for line in lines:
            record = orjson.loads(line)
            if record["ts"] > until_ms:
                continue
            raw = orjson.dumps(record["value"])
            if record["topic"] == "precinct-results":  # a poll of the state: every race of it
                for r in contract.decode_precinct_record(raw).reports:
                    if r.race_id == "president":
                        tally.apply(r)
            elif record["value"].get("race_id") != "president":
                continue
            elif record["topic"] == "race-definitions":
                definition = contract.decode_race_definition(raw)
            elif record["topic"] == "expected-votes":
                expected = contract.decode_expected_vote(raw)
    assert definition is not None
    assert expected is not None
    return tally, definition, expected


def test_minnesota_at_22_50_central_trump_needs_what_the_snapshot_s_own_counts_say() -> None:
    tally, definition, expected = mn_president_at("2024-11-06T05:00:00Z")
    snap = state_snapshot(tally, definition, expected)
    harris, trump = snap["candidates"][:2]
    assert snap["as_of"] == "2024-11-06T04:50:01Z"
    # The snapshot's own counts: Harris 907,994, Trump 757,291 of 1,708,993 counted; expected 3,253,920
    assert (harris["votes"], trump["votes"], snap["total_votes"], snap["expected_votes"]) == (
        907_994, 757_291, 1_708_993, 3_253_920)
    # By hand: 3,253,920 - 1,708,993 = 1,544,927 still out; margin 907,994 - 757,291 = 150,703;
    # (1,544,927 + 150,703) / (2 x 1,544,927) = 1,695,630 / 3,089,854 = 54.877...% -> 54.9
    assert (snap["votes_outstanding"], snap["margin_votes"]) == (1_544_927, 150_703)
    assert snap["needs_pct_of_remaining"] == 54.9
    hand = Decimal(100 * (1_544_927 + 150_703)) / Decimal(2 * 1_544_927)
    assert float(hand.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)) == 54.9
    assert snap["trailer"] == trump["candidate_id"]
    assert snap["needs_readout"] == "Trump needs 54.9% of the remaining 1,544,927 expected votes"
    assert snap["office"] == "U.S. President & Vice President"
    # Ramsey (27123) and Anoka (27003) had reported nothing yet: all their vote was out
    top = snap["counties_outstanding"]
    assert [(c["county_fips"], c["votes_outstanding"], c["total_votes"]) for c in top[:2]] == [
        ("27123", 278_025, 0), ("27003", 210_481, 0)]
    assert len(top) == 10
    assert all(a["votes_outstanding"] >= b["votes_outstanding"] for a, b in itertools.pairwise(top))


def test_minnesota_past_its_estimate_and_certified() -> None:
    # 17:10 UTC Nov 6: 3,254,709 counted, 789 above the (hindsight) expected 3,253,920
    snap = state_snapshot(*mn_president_at("2024-11-06T20:00:00Z"))
    assert (snap["total_votes"], snap["votes_outstanding"], snap["needs_pct_of_remaining"]) == (3_254_709, None, None)
    assert snap["needs_readout"] == "Counted votes exceed the expected vote by 789: the vote still out is not known"
    final = state_snapshot(*mn_president_at("2024-12-31T00:00:00Z"))
    assert (final["certified"], final["votes_outstanding"], final["needs_readout"], final["counties_outstanding"]) == (
        True, 0, None, [])


def test_the_snapshots_of_the_night_match_the_schemas() -> None:
    schemas = Path(__file__).resolve().parents[2] / "schemas"
    state = Draft202012Validator(json.loads((schemas / "state-result.schema.json").read_text(encoding="utf-8")))
    county = Draft202012Validator(json.loads((schemas / "county-result.schema.json").read_text(encoding="utf-8")))
    for until in ("2024-11-06T03:00:00Z", "2024-11-06T05:00:00Z", "2024-11-06T20:00:00Z", "2024-12-31T00:00:00Z"):
        tally, definition, expected = mn_president_at(until)
        errors = list(state.iter_errors(state_snapshot(tally, definition, expected)))
        for fips in tally.counties:
            errors += county.iter_errors(county_snapshot(tally, fips, definition, expected))
        assert [e.message for e in errors] == [], until
