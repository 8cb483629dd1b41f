"""The model on hand-worked races: no baseline, one unit, all units in, a unit over its
baseline, a partly counted unit, and a county map that does not match the baseline's."""

from __future__ import annotations

import math

import pytest

from streams.model.baselines import UnitBaseline
from streams.model.conformal import Fit, needed_units, weighted_quantile
from streams.model.estimate import NoEstimate, Projection, UnitCount, project

PARTIES = {"harris": "DFL", "trump": "R"}  # aliases of the baseline's DEM and REP


def even(total: int) -> UnitBaseline:
    return UnitBaseline(total, {"DEM": total // 2, "REP": total // 2})


def counted(unit_id: str, dem: int, rep: int, complete: bool = True) -> UnitCount:
    return UnitCount(unit_id, {"harris": dem, "trump": rep}, complete)


def twenty_in() -> tuple[dict[str, UnitBaseline], list[UnitCount]]:
    """20 units of 1,000 votes last time, all in: ten cast 1,000 again, ten 1,200, half each way."""
    baseline = {f"u{i:02d}": even(1000) for i in range(20)}
    counts = [counted(f"u{i:02d}", 500, 500) if i % 2 else counted(f"u{i:02d}", 600, 600) for i in range(20)]
    return baseline, counts


def test_no_baseline_is_no_estimate_with_the_reason() -> None:
    result = project([counted("u1", 10, 5)], PARTIES, {})
    assert isinstance(result, NoEstimate)
    assert result.reason == "no baseline for this race"


def test_one_unit_in_is_too_few_for_an_interval() -> None:
    baseline = {"u1": even(1000), "u2": even(1000)}
    result = project([counted("u1", 550, 500)], PARTIES, baseline)
    assert isinstance(result, NoEstimate)
    assert result.units_used == 1
    assert result.reason == "1 units with a baseline have fully reported; intervals at 95% need at least 19"


def test_nineteen_units_are_the_fewest_that_give_a_95_percent_interval() -> None:
    assert [needed_units(level) for level in (0.8, 0.9, 0.95)] == [4, 9, 19]
    baseline, counts = twenty_in()
    baseline["out"] = even(1000)
    assert isinstance(project(counts[:18], PARTIES, baseline), NoEstimate)
    assert isinstance(project(counts[:19], PARTIES, baseline), Projection)


def test_all_units_in_is_the_count_itself_with_intervals_of_one_point() -> None:
    baseline = {"u1": even(1000), "u2": even(3000)}
    result = project([counted("u1", 600, 500), counted("u2", 1000, 1900)], PARTIES, baseline)
    assert isinstance(result, Projection)
    assert (result.expected_votes, result.votes_remaining, result.units_outstanding) == (4000, 0, 0)
    assert result.expected_ranges == {80: (4000, 4000), 90: (4000, 4000), 95: (4000, 4000)}
    assert result.shares == {"harris": 40.0, "trump": 60.0}
    assert result.share_ranges["trump"][95] == (60.0, 60.0)


def test_one_unit_out_worked_by_hand() -> None:
    # Turnout ratios: ten units at 1.0, ten at 1.2: fitted 1.1. Leaving one out, the others'
    # mean is 21/19 or 20.8/19, so every score is 2/19. One unit of 1,000 is out: expected
    # 1,100, and its error's spread is 1,000 x sqrt(1 + 20 x 1000^2 / 20000^2) = 1000 x sqrt(1.05).
    baseline, counts = twenty_in()
    baseline["out"] = even(1000)
    result = project(counts, PARTIES, baseline)
    assert isinstance(result, Projection)
    assert (result.counted_votes, result.expected_votes, result.votes_remaining) == (22000, 23100, 1100)
    half = 2 / 19 * 1000 * math.sqrt(1.05)
    assert result.expected_ranges[90] == (round(23100 - half), round(23100 + half))
    assert result.remaining_range(90) == (round(1100 - half), round(1100 + half))
    assert result.unit_expected == {"out": 1100}
    # Every unit split evenly, as it did last time: no change of share, no uncertainty in it.
    assert result.shares == {"harris": 50.0, "trump": 50.0}
    assert result.share_ranges["harris"][90] == (50.0, 50.0)
    assert (result.units_used, result.units_outstanding, result.units_unmatched) == (20, 1, 0)


def test_a_unit_already_over_its_baseline_is_expected_to_end_at_least_where_it_is() -> None:
    baseline, counts = twenty_in()
    baseline["big"] = even(1000)  # expected 1,100 by the fitted ratio, but 2,500 are counted already
    result = project([*counts, counted("big", 1500, 1000, complete=False)], PARTIES, baseline)
    assert isinstance(result, Projection)
    assert result.unit_expected == {"big": 2500}
    assert result.expected_votes == result.counted_votes == 24500
    assert result.expected_ranges[90][0] == 24500  # never below what is counted
    assert result.expected_ranges[90][1] > 24500


def test_a_partly_counted_unit_gives_the_rest_to_whoever_is_short_of_its_expected_split() -> None:
    # Its baseline split evenly and nothing moved: 1,100 expected, 550 each. Its first 600
    # counted went 400 to 200 (early ballots lean one way), so the 500 still out go 150 to 350.
    baseline, counts = twenty_in()
    baseline["part"] = even(1000)
    result = project([*counts, counted("part", 400, 200, complete=False)], PARTIES, baseline)
    assert isinstance(result, Projection)
    assert result.expected_votes == 23100
    assert result.shares["harris"] == pytest.approx(100 * (11000 + 550) / 23100)


def test_a_new_county_map_is_no_estimate_and_says_so() -> None:
    baseline, counts = twenty_in()
    renamed = [UnitCount(f"new-{u.unit_id}", u.votes, u.complete) for u in counts]
    result = project(renamed, PARTIES, baseline)
    assert isinstance(result, NoEstimate)
    assert result.reason.startswith("20 of 20 reporting units (22,000 votes) have no baseline")


def test_a_unit_without_a_baseline_is_counted_as_it_stands_when_it_is_one_of_many() -> None:
    baseline, counts = twenty_in()
    baseline["out"] = even(1000)
    stray = counted("stray", 100, 0, complete=False)
    result = project([*counts, stray], PARTIES, baseline)
    assert isinstance(result, Projection)
    assert result.units_unmatched == 1
    assert (result.counted_votes, result.expected_votes) == (22100, 23200)


def test_a_candidate_whose_party_the_baseline_lacks_starts_from_zero() -> None:
    baseline, counts = twenty_in()
    baseline["out"] = even(1000)
    with_third = [UnitCount(u.unit_id, {**u.votes, "stein": 0}, True) for u in counts]
    result = project(with_third, {**PARTIES, "stein": "G"}, baseline)
    assert isinstance(result, Projection)
    assert result.shares["stein"] == 0.0


def test_wider_levels_give_wider_intervals_around_the_point() -> None:
    baseline = {f"u{i}": even(1000 + 37 * i) for i in range(60)}
    counts = [counted(f"u{i}", 500 + (i * 53) % 170, 480 + (i * 31) % 150) for i in range(40)]
    result = project(counts, PARTIES, baseline)
    assert isinstance(result, Projection)
    r80, r90, r95 = (result.expected_ranges[level] for level in (80, 90, 95))
    assert r95[0] <= r90[0] <= r80[0] <= result.expected_votes <= r80[1] <= r90[1] <= r95[1]
    assert r80[0] < r80[1]
    for candidate, share in result.shares.items():
        low, high = result.share_ranges[candidate][90]
        assert low < share < high


def test_the_score_quantile_has_the_finite_sample_correction() -> None:
    fit = Fit.of([float(i) for i in range(10)], [1.0] * 10, [str(i) for i in range(10)])
    assert fit.half_width(0.95) is None  # 0.95 x 11/10 > 1: ten scores cannot bound 95%
    assert fit.half_width(0.9) == max(fit.scores)  # 0.9 x 11/10 = 0.99: the largest score
    assert weighted_quantile([3.0, 1.0, 2.0], [1.0, 1.0, 2.0], 0.5) == 2.0


def test_units_of_one_county_that_err_together_widen_the_interval() -> None:
    values = [0.0, 0.0, 1.0, 1.0, 2.0, 2.0]
    apart = Fit.of(values, [1.0] * 6, ["a", "b", "c", "d", "e", "f"])
    together = Fit.of(values, [1.0] * 6, ["a", "a", "b", "b", "c", "c"])
    assert apart.correlation == 0.0
    assert together.correlation == 1.0
    assert together.spread([1.0, 1.0], ["x", "x"]) > apart.spread([1.0, 1.0], ["x", "y"])
