"""Applying precinct reports to a RaceTally: new, duplicate, stale, corrections, stored units."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streams.contract import ExpectedVote, PrecinctReport, TallyKey
from streams.counting.tally import RaceTally, StoredUnit, unit_from_row, unit_row
from streams.errors import VotewireError

KEY = TallyKey("2024-11-05", "president", "MN", "live")
T0 = 1_730_854_800_000  # 2024-11-06T01:00:00Z


def report(precinct: str, seq: int, votes: dict[str, int], county: str = "27053", **kw: Any) -> PrecinctReport:
    ms = kw.pop("ms", T0 + 60_000 * seq)
    fields: dict[str, Any] = {"complete": True, "reported_at": f"t{ms}"} | kw
    return PrecinctReport("2024-11-05", "president", "MN", county, precinct, seq, reported_ms=ms, votes=votes,
                          **fields)


def test_a_new_report_is_applied_and_counted_for_state_and_county() -> None:
    tally = RaceTally(KEY)
    applied = tally.apply(report("p1", 0, {"harris": 300, "trump": 200}))
    assert applied.outcome == "applied"
    assert applied.previous is None
    assert applied.unit is not None
    assert applied.unit.votes == {"harris": 300, "trump": 200}
    assert tally.votes == {"harris": 300, "trump": 200}
    assert tally.total_votes == 500
    assert tally.precincts_reporting == 1
    assert tally.units_total == 1
    assert tally.seq_sum == 1  # seq 0 counts as 1, so a unit's first report raises the version
    assert tally.as_of_ms == T0
    assert tally.as_of == f"t{T0}"
    assert tally.counties["27053"].votes == {"harris": 300, "trump": 200}


def test_totals_add_up_over_units_and_counties() -> None:
    tally = RaceTally(KEY)
    tally.apply(report("p1", 0, {"harris": 300, "trump": 200}))
    tally.apply(report("p2", 2, {"harris": 10, "trump": 40}, county="27123"))
    tally.apply(report("p3", 1, {"harris": 5}, complete=False))
    assert tally.votes == {"harris": 315, "trump": 240}
    assert tally.total_votes == 555
    assert tally.precincts_reporting == 2  # p3 is not complete
    assert tally.seq_sum == 1 + 3 + 2
    assert tally.counties["27053"].total_votes == 505
    assert tally.counties["27123"].total_votes == 50
    assert tally.counties["27053"].seq_sum == 3
    assert tally.as_of_ms == T0 + 120_000


@pytest.mark.parametrize(("seq", "outcome"), [(3, "duplicate"), (2, "stale"), (0, "stale")])
def test_a_report_whose_seq_is_not_higher_is_dropped(seq: int, outcome: str) -> None:
    tally = RaceTally(KEY)
    tally.apply(report("p1", 3, {"harris": 300, "trump": 200}))
    applied = tally.apply(report("p1", seq, {"harris": 999, "trump": 1}))
    assert applied.outcome == outcome
    assert applied.unit is None
    assert applied.previous is not None
    assert applied.previous.seq == 3
    assert tally.votes == {"harris": 300, "trump": 200}
    assert tally.seq_sum == 4


def test_a_downward_correction_replaces_the_unit_and_is_not_clamped() -> None:
    tally = RaceTally(KEY)
    tally.apply(report("p1", 0, {"harris": 300, "trump": 200, "stein": 7}))
    tally.apply(report("p2", 0, {"harris": 100, "trump": 100}))
    applied = tally.apply(report("p1", 1, {"harris": 290, "trump": 205}, complete=False))
    assert applied.outcome == "applied"
    assert applied.previous is not None
    assert applied.previous.votes == {"harris": 300, "trump": 200, "stein": 7}
    assert tally.votes == {"harris": 390, "trump": 305}  # stein's 7 are gone, not kept
    assert tally.total_votes == 695
    assert tally.precincts_reporting == 1
    assert tally.seq_sum == 2 + 1


def test_votes_for_a_candidate_nobody_defined_are_counted() -> None:
    tally = RaceTally(KEY)
    tally.apply(report("p1", 0, {"harris": 3, "write-in-42": 2}))
    assert tally.votes["write-in-42"] == 2
    assert tally.total_votes == 5


def test_precincts_reporting_uses_the_units_own_count_when_it_aggregates() -> None:
    tally = RaceTally(KEY)
    tally.apply(report("27053", 0, {"harris": 3}, complete=False, precincts_reporting=40, precincts_total=120))
    tally.apply(report("27123", 0, {"harris": 3}, county="27123", precincts_reporting=7, precincts_total=7))
    assert tally.precincts_reporting == 47
    assert tally.counties["27053"].precincts_total == 120
    assert tally.counties["27053"].precincts_reporting == 40


def test_a_county_of_single_precincts_has_no_precincts_total() -> None:
    tally = RaceTally(KEY)
    tally.apply(report("p1", 0, {"harris": 3}))
    assert tally.counties["27053"].precincts_total is None


def test_a_unit_moved_to_another_county_leaves_the_old_one() -> None:
    tally = RaceTally(KEY)
    tally.apply(report("p1", 0, {"harris": 3}, county="27053"))
    tally.take_dirty_counties()
    tally.apply(report("p1", 1, {"harris": 4}, county="27123"))
    assert tally.counties["27053"].votes == {}
    assert tally.counties["27053"].units_total == 0
    assert tally.counties["27123"].votes == {"harris": 4}
    assert tally.take_dirty_counties() == {"27053", "27123"}


def test_as_of_follows_the_latest_stored_report_even_when_a_correction_is_older() -> None:
    tally = RaceTally(KEY)
    tally.apply(report("p1", 0, {"harris": 3}, ms=T0 + 10))
    tally.apply(report("p2", 0, {"harris": 3}, ms=T0 + 50))
    tally.apply(report("p2", 1, {"harris": 2}, ms=T0 + 20))  # the source re-stamped it earlier
    assert tally.as_of_ms == T0 + 20
    assert tally.as_of == f"t{T0 + 20}"
    assert tally.counties["27053"].as_of_ms == T0 + 20


def test_dirty_counties_are_taken_once() -> None:
    tally = RaceTally(KEY)
    tally.apply(report("p1", 0, {"harris": 3}))
    tally.apply(report("p2", 0, {"harris": 3}, county="27123"))
    tally.apply(report("p2", 0, {"harris": 3}, county="27123"))  # duplicate: changes nothing
    assert tally.take_dirty_counties() == {"27053", "27123"}
    assert tally.take_dirty_counties() == set()


def test_restore_rebuilds_the_same_tally_from_stored_units() -> None:
    live = RaceTally(KEY)
    stored: dict[str, list[Any]] = {}
    for r in [report("p1", 0, {"harris": 3, "trump": 1}), report("p2", 4, {"trump": 9}, county="27123"),
              report("p1", 2, {"harris": 2, "trump": 5}, registered_voters=20)]:
        applied = live.apply(r)
        assert applied.unit is not None
        stored[r.precinct_id] = unit_row(r.precinct_id, applied.unit)  # as a checkpoint holds it
    rebuilt = RaceTally(KEY)
    for row in orjson.loads(orjson.dumps(list(stored.values()))):
        rebuilt.restore(*unit_from_row(row))
    assert (rebuilt.votes, rebuilt.total_votes, rebuilt.seq_sum, rebuilt.as_of) == (
        live.votes, live.total_votes, live.seq_sum, live.as_of)
    assert rebuilt.counties.keys() == live.counties.keys()


@pytest.mark.parametrize(
    "unit",
    [
        StoredUnit("27053", 7, T0, "2024-11-06T01:00:00Z", {"harris": 1, "trump": 0}, True, 1, None),
        StoredUnit("27053", 0, T0, "2024-11-06T01:00:00-05:00", {}, False, 3, 1200, 9),
    ],
)
def test_stored_units_round_trip_exactly(unit: StoredUnit) -> None:
    row = orjson.loads(orjson.dumps(unit_row("MINNEAPOLIS W-1 P-2/A", unit)))
    assert unit_from_row(row) == ("MINNEAPOLIS W-1 P-2/A", unit)


@pytest.mark.parametrize("row", ["not a row", [], ["p1", "27053"]])
def test_a_unit_row_votewire_did_not_write_is_refused(row: Any) -> None:
    with pytest.raises(VotewireError, match="not a unit row"):
        unit_from_row(row)


def expected(seq: int, statewide: int | None, counties: dict[str, int]) -> ExpectedVote:
    return ExpectedVote("2024-11-05", "president", "MN", statewide, counties, seq, "t", T0)


def test_expected_votes_from_county_estimates_stop_when_a_new_county_is_not_covered() -> None:
    tally = RaceTally(KEY)
    estimate = expected(0, None, {"27053": 600, "27123": 400})
    tally.apply(report("p1", 0, {"harris": 3}))
    assert tally.expected_votes(estimate) == 1000
    tally.apply(report("p2", 0, {"harris": 3}, county="27001"))
    assert tally.expected_votes(estimate) is None  # the same estimate, a county it lacks
    assert tally.expected_votes(expected(1, None, {"27053": 600, "27123": 400, "27001": 50})) == 1050
    assert tally.expected_votes(None) is None
