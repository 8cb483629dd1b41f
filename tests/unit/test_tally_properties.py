"""Properties: the tally depends only on each unit's highest-seq report, never on arrival order."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.contract import Candidate, PrecinctReport, RaceDefinition, TallyKey
from streams.counting.snapshots import county_snapshot
from streams.counting.tally import RaceTally, unit_from_row, unit_row

KEY = TallyKey("2024-11-05", "president", "MN", "live")
CANDIDATES = ("harris", "trump", "oliver", "write-in")
T0 = 1_730_854_800_000

votes_st = st.dictionaries(st.sampled_from(CANDIDATES), st.integers(0, 5000), max_size=len(CANDIDATES))


@st.composite
def unit_reports(draw: st.DrawFn, precinct_id: str) -> list[PrecinctReport]:
    """Several reports of one unit, distinct seqs, any counts (corrections go up or down)."""
    seqs = draw(st.lists(st.integers(0, 30), min_size=1, max_size=5, unique=True))
    return [
        PrecinctReport(
            "2024-11-05", "president", "MN", draw(st.sampled_from(["27053", "27123", "27001"])), precinct_id, seq,
            reported_at=f"t{seq}", reported_ms=T0 + draw(st.integers(0, 10_000)), votes=draw(votes_st),
            complete=draw(st.booleans()), precincts_reporting=draw(st.none() | st.integers(0, 40)),
            precincts_total=draw(st.none() | st.integers(40, 60)),
        )
        for seq in seqs
    ]


@st.composite
def nights(draw: st.DrawFn) -> tuple[list[PrecinctReport], list[PrecinctReport]]:
    """(the stream: every report, some repeated, in any order; each unit's highest-seq report)."""
    units = [draw(unit_reports(f"p{i}")) for i in range(draw(st.integers(1, 8)))]
    stream = [r for reports in units for r in reports for _ in range(draw(st.integers(1, 3)))]
    return draw(st.permutations(stream)), [max(reports, key=lambda r: r.seq) for reports in units]


def figures(tally: RaceTally) -> dict[str, Any]:
    counties = {fips: (dict(c.votes), c.total_votes, c.precincts_reporting, c.seq_sum, c.as_of_ms, c.as_of,
                       c.units_total, c.precincts_total)
                for fips, c in tally.counties.items() if c.units_total}  # a unit may have moved away
    return {"votes": dict(tally.votes), "total": tally.total_votes, "reporting": tally.precincts_reporting,
            "seq_sum": tally.seq_sum, "as_of": (tally.as_of_ms, tally.as_of), "units": tally.units_total,
            "counties": counties}


@settings(max_examples=150, deadline=None)
@given(nights())
def test_any_order_and_duplication_gives_the_tally_of_the_latest_reports(night: Any) -> None:
    stream, latest = night
    interleaved, alone = RaceTally(KEY), RaceTally(KEY)
    for r in stream:
        interleaved.apply(r)
    for r in latest:
        alone.apply(r)
    assert figures(interleaved) == figures(alone)


@settings(max_examples=100, deadline=None)
@given(nights())
def test_the_tally_is_plain_sums_over_the_latest_reports(night: Any) -> None:
    stream, latest = night
    tally = RaceTally(KEY)
    for r in stream:
        tally.apply(r)
    per_candidate: Counter[str] = Counter()
    for r in latest:
        per_candidate.update(r.votes)
    assert tally.votes == {c: n for c, n in per_candidate.items() if n}
    assert tally.total_votes == sum(sum(r.votes.values()) for r in latest)
    assert tally.precincts_reporting == sum(
        r.precincts_reporting if r.precincts_reporting is not None else int(r.complete) for r in latest)
    assert tally.seq_sum == sum(r.seq + 1 for r in latest)
    assert tally.as_of_ms == max(r.reported_ms for r in latest)
    for fips, county in tally.counties.items():
        mine = [r for r in latest if r.county_fips == fips]
        assert county.total_votes == sum(sum(r.votes.values()) for r in mine)
        assert county.units_total == len(mine)


@settings(max_examples=100, deadline=None)
@given(nights(), st.randoms(use_true_random=False))
def test_restore_from_stored_units_gives_the_same_tally(night: Any, rng: Any) -> None:
    stream, _ = night
    tally, table = RaceTally(KEY), {}
    for r in stream:
        applied = tally.apply(r)
        if applied.unit is not None:
            table[r.precinct_id] = unit_row(r.precinct_id, applied.unit)  # one write per applied record
    rows = list(table.items())
    rng.shuffle(rows)  # a changelog restores in no particular unit order
    rebuilt = RaceTally(KEY)
    for _, row in rows:
        rebuilt.restore(*unit_from_row(row))
    assert figures(rebuilt) == figures(tally)


DEFINITION = RaceDefinition("2024-11-05", "president", "MN", "U.S. President",
                            tuple(Candidate(c, c, "") for c in CANDIDATES), 9, "2024-11-06T02:00:00Z", T0,
                            certified=False)


def county_figures(tally: RaceTally, fips: str) -> tuple[Any, ...]:
    c = tally.counties[fips]
    return dict(c.votes), c.precincts_reporting, c.units_total, c.precincts_total


def county_versions(tally: RaceTally) -> dict[str, int]:
    return {fips: county_snapshot(tally, fips, DEFINITION, None)["version"] for fips in tally.counties}


@settings(max_examples=150, deadline=None)
@given(nights())
def test_a_countys_version_never_goes_down_and_rises_when_its_figures_change(night: Any) -> None:
    """Units move between counties here (each report draws its county): issue 18 item 4."""
    stream, _ = night
    tally = RaceTally(KEY)
    versions: dict[str, int] = {}
    shown: dict[str, tuple[Any, ...]] = {}
    for r in stream:
        tally.apply(r)
        for fips, version in county_versions(tally).items():
            assert version >= versions.get(fips, 0), f"county {fips}'s version went down"
            now = county_figures(tally, fips)
            if fips in shown and now != shown[fips]:
                assert version > versions[fips], f"county {fips} changed under the same version"
            versions[fips], shown[fips] = version, now


@settings(max_examples=100, deadline=None)
@given(nights(), st.randoms(use_true_random=False))
def test_county_versions_do_not_depend_on_arrival_order_or_a_restore(night: Any, rng: Any) -> None:
    """A rebuild reads the log again (in another interleaving of the input and re-keyed topics)
    or restores a checkpoint's units: either must give every county the version it had."""
    stream, _ = night
    tally, shuffled = RaceTally(KEY), RaceTally(KEY)
    for r in stream:
        tally.apply(r)
    for r in rng.sample(stream, len(stream)):
        shuffled.apply(r)
    restored = RaceTally(KEY)
    for precinct_id, unit in tally.units():
        restored.restore(precinct_id, unit)
    assert county_versions(shuffled) == county_versions(tally)
    assert county_versions(restored) == county_versions(tally)
