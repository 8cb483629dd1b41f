"""Pure tallying: one `RaceTally` per race, state and mode, derived from its units' latest reports.

Design rule 1: the latest accepted report per unit is the single source of truth. The table
holds one `StoredUnit` per unit; everything here (totals, per-county totals, precincts
reporting, `seq_sum`, `as_of`) is a running figure derived from those units, so `restore`
from the table rebuilds exactly what `apply` had built.

A unit may move to another county (the source re-assigns it). The county it left must still
get a higher snapshot version for its correction, so each unit also keeps the counties its
reports named before (`StoredUnit.former`), and a county's version counts seq + 1 of every
unit it holds or has held (`CountyTally.version_seq_sum`). That is a set, filled by every
report seen whatever its outcome, so any order of the same reports (a rebuild reads the input
and re-keyed topics interleaved otherwise) gives every county the same version.

`apply` is O(candidates in the report): it subtracts the unit's previous counts and adds the
new ones, for the state and for the unit's county. No whole-state work per record.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from streams.contract import ExpectedVote, PrecinctReport, RaceDefinition, TallyKey
from streams.counting.figures import expected_vote_for
from streams.errors import VotewireError


@dataclass(slots=True)
class StoredUnit:
    """What the table holds for one unit: its latest accepted report, compactly."""

    county_fips: str
    seq: int
    reported_ms: int
    reported_at: str
    # Shared with the report it came from; never mutated (a new report makes a new unit).
    votes: dict[str, int]
    complete: bool
    reporting: int  # precincts counted as reporting (`PrecinctReport.reporting`)
    registered_voters: int | None
    # Only for units that aggregate precincts (a county): feeds the county's precincts_total.
    precincts_total: int | None = None
    # Other counties this unit's reports have named (sorted): it moved from them. Almost always ().
    former: tuple[str, ...] = ()

    @property
    def total_votes(self) -> int:
        return sum(self.votes.values())

    @property
    def time(self) -> tuple[int, str]:
        """Source time, ordered; the string breaks ties so `as_of` never depends on arrival order."""
        return (self.reported_ms, self.reported_at)


def unit_from_report(report: PrecinctReport) -> StoredUnit:
    return StoredUnit(
        county_fips=report.county_fips,
        seq=report.seq,
        reported_ms=report.reported_ms,
        reported_at=report.reported_at,
        votes=report.votes,
        complete=report.complete,
        reporting=report.reporting,
        registered_voters=report.registered_voters,
        precincts_total=report.precincts_total,
    )


def unit_row(precinct_id: str, u: StoredUnit) -> list[Any]:
    """A unit as a compact JSON-ready row (streams.worker.checkpoint writes ~200,000 of these)."""
    return [precinct_id, u.county_fips, u.seq, u.reported_ms, u.reported_at, u.votes, u.complete, u.reporting,
            u.registered_voters, u.precincts_total, u.former]


def unit_from_row(row: list[Any]) -> tuple[str, StoredUnit]:
    """`unit_row` back; `VotewireError` for a row votewire did not write."""
    try:
        (precinct_id, county_fips, seq, reported_ms, reported_at, votes, complete, reporting, registered, total,
         former) = row
        former = tuple(former)
    except (TypeError, ValueError) as exc:
        raise VotewireError(f"not a unit row votewire wrote: {str(row)[:200]}") from exc
    return precinct_id, StoredUnit(county_fips, seq, reported_ms, reported_at, votes, complete, reporting,
                                   registered, total, former)


class Totals:
    """Running totals over a set of units (a whole race, or one county of it)."""

    __slots__ = ("_pt_given", "_pt_sum", "as_of", "as_of_lost", "as_of_ms", "precincts_reporting",
                 "seq_sum", "total_votes", "units_total", "votes")

    def __init__(self) -> None:
        self.votes: dict[str, int] = {}  # candidate_id -> total; only candidates with votes > 0
        self.total_votes = 0
        self.precincts_reporting = 0
        # Each unit adds seq + 1, so a unit's first report (seq 0) raises it too: the snapshot
        # version is built on it and must rise with every applied report.
        self.seq_sum = 0
        self.units_total = 0
        self.as_of_ms: int | None = None
        self.as_of: str | None = None
        self.as_of_lost = False  # the unit holding `as_of` went back in time: recompute
        self._pt_sum = 0
        self._pt_given = 0

    @property
    def precincts_total(self) -> int | None:
        """Sum of the units' own precincts_total, or None when no unit gives one."""
        return self._pt_sum if self._pt_given else None

    # add/remove are the per-report hot path: two copies rather than one with a sign, locals
    # rather than attributes, no calls, and no tuples built unless times tie.
    def add(self, unit: StoredUnit) -> None:
        votes = self.votes
        total = 0
        for candidate_id, n in unit.votes.items():
            if n:
                total += n
                votes[candidate_id] = votes.get(candidate_id, 0) + n
        self.total_votes += total
        self.precincts_reporting += unit.reporting
        self.seq_sum += unit.seq + 1
        self.units_total += 1
        if unit.precincts_total is not None:
            self._pt_sum += unit.precincts_total
            self._pt_given += 1
        ms, as_of_ms = unit.reported_ms, self.as_of_ms
        if as_of_ms is None or ms > as_of_ms or (ms == as_of_ms and unit.reported_at >= (self.as_of or "")):
            self.as_of_ms, self.as_of = ms, unit.reported_at
            self.as_of_lost = False

    def remove(self, unit: StoredUnit) -> None:
        votes = self.votes
        total = 0
        for candidate_id, n in unit.votes.items():
            if n:
                total += n
                left = votes[candidate_id] - n
                if left:
                    votes[candidate_id] = left
                else:  # keep only candidates with votes, as a rebuild from the units would
                    del votes[candidate_id]
        self.total_votes -= total
        self.precincts_reporting -= unit.reporting
        self.seq_sum -= unit.seq + 1
        self.units_total -= 1
        if unit.precincts_total is not None:
            self._pt_sum -= unit.precincts_total
            self._pt_given -= 1
        if unit.reported_ms == self.as_of_ms and unit.reported_at == self.as_of:
            self.as_of_lost = True

    def swap(self, previous: StoredUnit, unit: StoredUnit, county: Totals) -> None:
        """`remove(previous)` then `add(unit)`, here and in `county` (the unit's county, which it
        has not left), in one pass over the votes: a unit's next report changes a few counts, and
        each change is made once for both totals. The same figures as the two calls on each."""
        votes, county_votes = self.votes, county.votes
        old = previous.votes
        change = 0
        for candidate_id, n in unit.votes.items():
            delta = n - old.get(candidate_id, 0)
            if delta:
                change += delta
                _shift(votes, candidate_id, delta)
                _shift(county_votes, candidate_id, delta)
        for candidate_id, n in old.items():
            if n and candidate_id not in unit.votes:
                change -= n
                _shift(votes, candidate_id, -n)
                _shift(county_votes, candidate_id, -n)
        for totals in (self, county):
            totals.total_votes += change
            totals._swap_figures(previous, unit)

    def _swap_figures(self, previous: StoredUnit, unit: StoredUnit) -> None:
        """Everything but the votes of `remove(previous)` then `add(unit)`."""
        self.precincts_reporting += unit.reporting - previous.reporting
        self.seq_sum += unit.seq - previous.seq
        if previous.precincts_total is not None or unit.precincts_total is not None:
            self._pt_sum += (unit.precincts_total or 0) - (previous.precincts_total or 0)
            self._pt_given += (unit.precincts_total is not None) - (previous.precincts_total is not None)
        ms, as_of_ms = unit.reported_ms, self.as_of_ms
        if as_of_ms is None or ms > as_of_ms or (ms == as_of_ms and unit.reported_at >= (self.as_of or "")):
            self.as_of_ms, self.as_of = ms, unit.reported_at
            self.as_of_lost = False
        elif previous.reported_ms == as_of_ms and previous.reported_at == self.as_of:
            self.as_of_lost = True

    def recompute_as_of(self, units: Iterator[StoredUnit]) -> None:
        """Rare path (a unit's new report is older than the one it replaced): O(units)."""
        latest = max((u.time for u in units), default=None)
        self.as_of_ms, self.as_of = latest if latest is not None else (None, None)
        self.as_of_lost = False

def _shift(votes: dict[str, int], candidate_id: str, delta: int) -> None:
    """Add `delta` to a candidate's total, keeping only candidates with votes (as `Totals.add`
    and `remove` do)."""
    left = votes.get(candidate_id, 0) + delta
    if left:
        votes[candidate_id] = left
    else:
        del votes[candidate_id]


class CountyTally(Totals):
    """The same running totals for one county of a race."""

    __slots__ = ("county_fips", "departed_seq_sum")

    def __init__(self, county_fips: str) -> None:
        super().__init__()
        self.county_fips = county_fips
        # seq + 1 of every unit that moved away from this county (it is in their `former`).
        self.departed_seq_sum = 0

    @property
    def version_seq_sum(self) -> int:
        """The units' part of the county's snapshot version: seq + 1 over the units it holds
        and those that moved away. Unlike `seq_sum` it never goes down: a move raises the new
        report's seq, and the county left keeps counting the unit."""
        return self.seq_sum + self.departed_seq_sum


def moved_from(previous: StoredUnit, unit: StoredUnit, fips: str) -> StoredUnit:
    """`unit` with `fips` and `previous`'s former counties in its `former`, less its own county."""
    former = tuple(sorted({*previous.former, fips} - {unit.county_fips}))
    return unit if former == unit.former else dataclasses.replace(unit, former=former)


class Applied(NamedTuple):
    """What `RaceTally.apply` did with a report (a NamedTuple: one is made per report)."""

    outcome: Literal["applied", "duplicate", "stale"]
    unit: StoredUnit | None  # the new stored unit when applied (the worker writes it), else None
    previous: StoredUnit | None  # the unit as stored before this report (None if new)


class RaceTally:
    """One tally (race, state, mode): every figure derived from its units' latest reports."""

    def __init__(self, key: TallyKey) -> None:
        self.key = key
        self.race = key.race  # the race key, built once: every report looks its race up by it
        self._units: dict[str, StoredUnit] = {}  # precinct_id -> latest accepted report
        self._all = Totals()
        self._counties: dict[str, CountyTally] = {}
        self._dirty_counties: set[str] = set()
        self._expected_memo: tuple[tuple[int, int | None, int], int, int | None] | None = None
        # The latest time Kafka gave a record carrying a report of this tally (whatever the
        # report's outcome: a maximum over the records read, so a rebuild finds the same one).
        self.kafka_ms: int | None = None
        # Raised by every change of what a checkpoint holds of this tally (a unit, `kafka_ms`), so
        # that whatever keeps something made of them (streams.worker.checkpoint's encoded entry, in
        # `encoded`) knows whether it is still true. No other figure is exact: a report before a
        # unit's move changes its `former` and no sum.
        self.changes = 0
        self.encoded: Any = None  # streams.worker.checkpoint's business, and dropped with the tally
        # The last figures streams.counting.alerts took of this tally, kept here for it to reuse (its own
        # business; a tally dropped after a rebalance takes its memo with it).
        self.memo: Any = None

    def apply(self, report: PrecinctReport) -> Applied:
        """Apply one report (design rule 2): a higher seq replaces the unit, even downwards."""
        previous = self._units.get(report.precinct_id)
        if previous is not None and report.seq <= previous.seq:
            if report.county_fips != previous.county_fips and report.county_fips not in previous.former:
                # Rare: an older report from before a move. Not applied, but the county it names
                # counts the unit as one that left it, as it would had this report come in order.
                self._replace(report.precinct_id, previous, moved_from(previous, previous, report.county_fips))
            return Applied("duplicate" if report.seq == previous.seq else "stale", None, previous)
        unit = unit_from_report(report)
        if previous is not None and (previous.former or previous.county_fips != unit.county_fips):
            unit = moved_from(previous, unit, previous.county_fips)
        self._replace(report.precinct_id, previous, unit)
        return Applied("applied", unit, previous)

    def note_kafka_time(self, kafka_ms: int | None) -> bool:
        """A record carrying a report of this tally was timed `kafka_ms` by Kafka; True if that
        is the latest yet."""
        if kafka_ms is None or (self.kafka_ms is not None and kafka_ms <= self.kafka_ms):
            return False
        self.kafka_ms = kafka_ms
        self.changes += 1
        return True

    @property
    def embargo_ms(self) -> int | None:
        """The time the embargo is judged by (design rule 7): for a live race, the earlier of
        the latest source time and the latest Kafka time, so that one unit's clock (skewed, a
        wrong offset, a hostile feed) cannot lift it alone; for test mode, source time only
        (a rehearsal's records are sent long before the night they stand for)."""
        if self.key.mode != "live":
            return self.as_of_ms
        if self.as_of_ms is None or self.kafka_ms is None:
            return None
        return min(self.as_of_ms, self.kafka_ms)

    def embargoed_whatever_comes(self, definition: RaceDefinition | None) -> bool:
        """Embargoed (`figures.embargoed`) now and after any report of a record Kafka timed no
        later than `kafka_ms`: no definition, or a live race whose latest Kafka time is before
        polls close (its embargo time is never later than that, whatever the units' clocks say).
        Alerts from such a record would all be held back, so they need not be worked out."""
        if definition is None:
            return True
        return self.key.mode == "live" and (self.kafka_ms is None or self.kafka_ms < definition.polls_close_ms)

    def restore(self, precinct_id: str, unit: StoredUnit) -> None:
        """Rebuild after a restart from one stored unit; the county is marked dirty for a re-send."""
        self._replace(precinct_id, self._units.get(precinct_id), unit)

    def unit(self, precinct_id: str) -> StoredUnit | None:
        return self._units.get(precinct_id)

    def units(self) -> Iterator[tuple[str, StoredUnit]]:
        """Every unit's latest accepted report, by precinct_id."""
        return iter(self._units.items())

    def mark_counties_dirty(self, counties: Iterable[str] | None = None) -> None:
        """These counties (every county by default) due again: their snapshots were lost in a
        failed send, or held back (streams.counting.room)."""
        self._dirty_counties.update(self._counties if counties is None else counties)

    def take_dirty_counties(self) -> set[str]:
        """Counties changed since the last call (the publisher builds their snapshots)."""
        dirty, self._dirty_counties = self._dirty_counties, set()
        return dirty

    def expected_votes(self, expected: ExpectedVote | None) -> int | None:
        """`figures.expected_vote_for` over this tally's counties, memoised.

        Counties are never removed and a given estimate seq never changes, so the answer can
        only change when the estimate or the number of counties does; this keeps the check of
        county coverage (O(counties)) off the per-record path.
        """
        if expected is None or expected.expected_votes is not None:
            return None if expected is None else expected.expected_votes  # statewide: no county to look at
        token = (expected.seq, expected.expected_votes, len(expected.county_expected))
        memo = self._expected_memo
        if memo is not None and memo[0] == token and memo[1] == len(self._counties):
            return memo[2]
        value = expected_vote_for(expected, self._counties)
        self._expected_memo = (token, len(self._counties), value)
        return value

    def _replace(self, precinct_id: str, previous: StoredUnit | None, unit: StoredUnit) -> None:
        if (previous is not None and previous.county_fips == unit.county_fips and not previous.former
                and not unit.former):
            self._update(precinct_id, previous, unit)  # the common case: a unit's next report
            return
        self.changes += 1
        county = self._county(unit.county_fips)
        old_county = county
        if previous is not None:
            self._all.remove(previous)
            old_county = self._counties[previous.county_fips]
            old_county.remove(previous)
        self._units[precinct_id] = unit
        self._all.add(unit)
        county.add(unit)
        if unit.former or (previous is not None and previous.former):
            self._count_departures(previous, unit)
        if self._all.as_of_lost:  # rare: checked here, not in a call per report
            self._settle_as_of(self._all)
        if county.as_of_lost:
            self._settle_as_of(county)
        self._dirty_counties.add(unit.county_fips)
        if old_county is not county:
            # The source moved the unit to another county. The old county stays (maybe with no
            # units) and is re-published, so its last snapshot does not keep the moved votes.
            self._settle_as_of(old_county)
            self._dirty_counties.add(old_county.county_fips)

    def _update(self, precinct_id: str, previous: StoredUnit, unit: StoredUnit) -> None:
        """`_replace` for a unit that stays in its county and never moved: one pass over its votes."""
        county = self._counties[unit.county_fips]
        self._units[precinct_id] = unit
        self.changes += 1
        self._all.swap(previous, unit, county)
        if self._all.as_of_lost:
            self._settle_as_of(self._all)
        if county.as_of_lost:
            self._settle_as_of(county)
        self._dirty_counties.add(unit.county_fips)

    def _count_departures(self, previous: StoredUnit | None, unit: StoredUnit) -> None:
        """Rare path (a unit that moved): its seq + 1 in every county it left, for their versions."""
        if previous is not None:
            for fips in previous.former:
                self._counties[fips].departed_seq_sum -= previous.seq + 1
        for fips in unit.former:
            county = self._county(fips)
            county.departed_seq_sum += unit.seq + 1
            if previous is None or fips not in previous.former:
                self._dirty_counties.add(fips)  # newly left (or restored): its correction is due

    def _county(self, county_fips: str) -> CountyTally:
        county = self._counties.get(county_fips)
        if county is None:
            county = self._counties[county_fips] = CountyTally(county_fips)
        return county

    def _settle_as_of(self, totals: Totals) -> None:
        if not totals.as_of_lost:
            return
        if isinstance(totals, CountyTally):
            fips = totals.county_fips
            totals.recompute_as_of(u for u in self._units.values() if u.county_fips == fips)
        else:
            totals.recompute_as_of(iter(self._units.values()))

    # Read-only views of the whole race.
    @property
    def votes(self) -> dict[str, int]:
        return self._all.votes

    @property
    def total_votes(self) -> int:
        return self._all.total_votes

    @property
    def precincts_reporting(self) -> int:
        return self._all.precincts_reporting

    @property
    def seq_sum(self) -> int:
        return self._all.seq_sum

    @property
    def units_total(self) -> int:
        return self._all.units_total

    @property
    def as_of_ms(self) -> int | None:
        return self._all.as_of_ms

    @property
    def as_of(self) -> str | None:
        return self._all.as_of

    @property
    def counties(self) -> dict[str, CountyTally]:
        return self._counties
