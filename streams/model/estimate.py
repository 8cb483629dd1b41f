"""The model: a race's final vote projected from the units counted so far and a baseline.

For one race in one state. The units that have fully reported and have a baseline say how
this election moved against the baseline: their turnout ratio (votes now / votes then) and
each candidate's change of share (share now - the share of the candidate's party then). Every
other baseline unit is outstanding: its expected total is its baseline total times the fitted
turnout ratio (at least what it has counted already), and its vote splits like its baseline
moved by the fitted changes of share. Summed with the counted vote, that gives the expected
vote, the votes still out and each candidate's projected final share, each with conformal
prediction intervals (`conformal`). A projection is never a bare point: with too few units
reported to form every interval, `project` returns `NoEstimate` and says why.

Pure and cheap: O(units x candidates) arithmetic, no fitting loop; `bench/bench_model.py`
measures a 3,000-unit race.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from streams.model.baselines import UnitBaseline, party_code
from streams.model.conformal import Fit, needed_units

LEVELS = (80, 90, 95)  # percent: the prediction intervals every projection carries
# A map change shows as reported units with no baseline. A few are counted as they stand (a
# split precinct, a new one); past these shares the baseline describes another map.
MAX_UNMATCHED_UNITS = 0.10
MAX_UNMATCHED_VOTES = 0.05


@dataclass(frozen=True, slots=True)
class UnitCount:
    """A reporting unit's latest report in the race: votes per candidate, and whether it is all in."""

    unit_id: str
    votes: Mapping[str, int]
    complete: bool
    total: int = field(init=False)  # summed once: a run reads it a few times per unit

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", sum(self.votes.values()))  # frozen: set once, here


@dataclass(frozen=True)
class NoEstimate:
    reason: str
    units_used: int = 0


@dataclass(frozen=True)
class Projection:
    counted_votes: int
    expected_votes: int
    expected_ranges: dict[int, tuple[int, int]]  # level -> (low, high)
    shares: dict[str, float]  # candidate -> projected final percent
    share_ranges: dict[str, dict[int, tuple[float, float]]]
    units_used: int  # complete units with a baseline: what the model stood on
    units_outstanding: int
    units_unmatched: int  # reported units without a baseline, counted as they stand
    unit_expected: dict[str, int] = field(default_factory=dict)  # outstanding unit -> expected total

    @property
    def votes_remaining(self) -> int:
        return self.expected_votes - self.counted_votes

    def remaining_range(self, level: int) -> tuple[int, int]:
        low, high = self.expected_ranges[level]
        return low - self.counted_votes, high - self.counted_votes


@dataclass
class RaceFrame:
    """The race's units sorted out against the baseline."""

    reported: list[tuple[UnitCount, UnitBaseline]] = field(default_factory=list)  # complete, with a baseline
    outstanding: list[tuple[UnitCount, UnitBaseline]] = field(default_factory=list)
    unmatched: list[UnitCount] = field(default_factory=list)

    @classmethod
    def of(cls, counts: Iterable[UnitCount], baseline: Mapping[str, UnitBaseline]) -> RaceFrame:
        frame, seen = cls(), set()
        for unit in counts:
            seen.add(unit.unit_id)
            base = baseline.get(unit.unit_id)
            if base is None:
                frame.unmatched.append(unit)
            elif unit.complete and base.total_votes > 0:
                frame.reported.append((unit, base))
            elif not unit.complete:
                frame.outstanding.append((unit, base))
            else:  # complete, but nothing cast in the baseline: no ratio to learn from
                frame.unmatched.append(unit)
        frame.outstanding += [(UnitCount(uid, {}, False), base) for uid, base in baseline.items() if uid not in seen]
        return frame

    def map_mismatch(self) -> str | None:
        """Why the baseline's map does not fit the reports, or None."""
        units = len(self.reported) + len(self.unmatched) + sum(1 for u, _ in self.outstanding if u.votes)
        counted = sum(u.total for u in self.all_counts())
        unmatched = sum(u.total for u in self.unmatched)
        if len(self.unmatched) > MAX_UNMATCHED_UNITS * units or unmatched > MAX_UNMATCHED_VOTES * max(counted, 1):
            return (f"{len(self.unmatched)} of {units} reporting units ({unmatched:,} votes) have no baseline: "
                    f"the units do not match the baseline's map")
        return None

    def all_counts(self) -> Iterable[UnitCount]:
        yield from (u for u, _ in self.reported)
        yield from (u for u, _ in self.outstanding)
        yield from self.unmatched


def project(counts: Iterable[UnitCount], parties: Mapping[str, str], baseline: Mapping[str, UnitBaseline],
            levels: tuple[int, ...] = LEVELS) -> Projection | NoEstimate:
    """The race's projection; `parties` maps each candidate to its party as the race defines it."""
    frame = RaceFrame.of(counts, baseline)
    if not baseline:
        return NoEstimate("no baseline for this race")
    if (mismatch := frame.map_mismatch()) is not None:
        return NoEstimate(mismatch, len(frame.reported))
    if not frame.outstanding:
        return everything_in(frame, parties, levels)
    need = needed_units(max(levels) / 100)
    if len(frame.reported) < need:
        return NoEstimate(f"{len(frame.reported)} units with a baseline have fully reported; intervals at "
                          f"{max(levels)}% need at least {need}", len(frame.reported))
    if not any(u.total for u, _ in frame.reported):
        return NoEstimate("the units that have fully reported counted no votes", len(frame.reported))
    return Projector(frame, parties, levels).projection()


def everything_in(frame: RaceFrame, parties: Mapping[str, str], levels: tuple[int, ...]) -> Projection:
    """Nothing outstanding: the count is the result, and every interval is that one point."""
    totals = candidate_totals(frame.all_counts(), parties)
    counted = sum(totals.values())
    shares = {c: 100 * v / counted if counted else 0.0 for c, v in totals.items()}
    return Projection(counted, counted, dict.fromkeys(levels, (counted, counted)), shares,
                      {c: dict.fromkeys(levels, (s, s)) for c, s in shares.items()},
                      len(frame.reported), 0, len(frame.unmatched))


def candidate_totals(counts: Iterable[UnitCount], candidates: Iterable[str]) -> dict[str, int]:
    totals = dict.fromkeys(candidates, 0)
    for unit in counts:
        for candidate, votes in unit.votes.items():
            totals[candidate] = totals.get(candidate, 0) + votes
    return totals


class Projector:
    """One projection's arithmetic, in the order it is done: turnout, then shares."""

    def __init__(self, frame: RaceFrame, parties: Mapping[str, str], levels: tuple[int, ...]) -> None:
        self.frame, self.levels = frame, levels
        self.candidates = list(candidate_totals(frame.all_counts(), parties))
        # A candidate's baseline share is its party's, split evenly among the race's candidates of
        # that party; a candidate whose party the baseline lacks starts from 0.
        codes = {c: party_code(parties.get(c, "")) for c in self.candidates}
        self.party_of = {c: (code, sum(1 for other in codes.values() if other == code)) for c, code in codes.items()}
        self.counted = sum(u.total for u in frame.all_counts())
        self.reported_counties = [b.county or u.unit_id for u, b in frame.reported]
        self.outstanding_counties = [b.county or u.unit_id for u, b in frame.outstanding]

    def base_share(self, base: UnitBaseline, candidate: str) -> float:
        party, candidates = self.party_of[candidate]
        return base.share(party) / candidates

    def projection(self) -> Projection:
        turnout = Fit.of([u.total / b.total_votes for u, b in self.frame.reported],
                         [float(b.total_votes) for _, b in self.frame.reported], self.reported_counties)
        unit_expected = {u.unit_id: max(round(b.total_votes * turnout.value), u.total)
                         for u, b in self.frame.outstanding}
        expected = self.counted + sum(e - u.total for (u, _), e in zip(self.frame.outstanding,
                                                                         unit_expected.values(), strict=True))
        spread = turnout.spread([float(b.total_votes) for _, b in self.frame.outstanding], self.outstanding_counties)
        ranges = {}
        for level in self.levels:
            half = (turnout.half_width(level / 100) or 0.0) * spread
            ranges[level] = (max(self.counted, round(expected - half)), round(expected + half))
        shares, share_ranges = self.shares(unit_expected, expected)
        return Projection(self.counted, expected, ranges, shares, share_ranges, len(self.frame.reported),
                          len(self.frame.outstanding), len(self.frame.unmatched), unit_expected)

    def shares(self, unit_expected: dict[str, int], expected: int) -> tuple[dict[str, float],
                                                                           dict[str, dict[int, tuple[float, float]]]]:
        weights = [float(u.total) for u, _ in self.frame.reported]
        fits = {c: Fit.of([u.votes.get(c, 0) / u.total - self.base_share(b, c) if u.total else 0.0
                           for u, b in self.frame.reported], weights, self.reported_counties) for c in self.candidates}
        finals = {c: float(v) for c, v in candidate_totals(self.frame.all_counts(), self.party_of).items()}
        for unit, base in self.frame.outstanding:
            left = unit_expected[unit.unit_id] - unit.total
            for candidate, votes in self.split_remaining(unit, base, fits, left).items():
                finals[candidate] += votes
        points = {c: 100 * v / expected if expected else 0.0 for c, v in finals.items()}
        # A unit's final share errs over all of its votes, not only those still out: what it has
        # counted is fixed, so the rest makes up the whole unit's departure from its projection.
        spreads = {c: fit.spread([float(e) for e in unit_expected.values()], self.outstanding_counties)
                   for c, fit in fits.items()}
        ranges = {c: {level: self.share_range(points[c], fits[c], spreads[c], expected, level) for level in self.levels}
                  for c in self.candidates}
        return points, ranges

    def split_remaining(self, unit: UnitCount, base: UnitBaseline, fits: dict[str, Fit], left: int) -> dict[str, float]:
        """The unit's votes still out, to each candidate: the unit's expected final shares (its
        baseline moved by the fitted changes), less what each already has there."""
        raw = {c: max(0.0, self.base_share(base, c) + fits[c].value) for c in self.candidates}
        norm = sum(raw.values()) or 1.0
        final = left + unit.total
        need = {c: max(0.0, final * s / norm - unit.votes.get(c, 0)) for c, s in raw.items()}
        total_need = sum(need.values())
        if total_need <= 0:
            return {c: left * s / norm for c, s in raw.items()}
        return {c: left * n / total_need for c, n in need.items()}

    def share_range(self, point: float, fit: Fit, spread: float, expected: int, level: int) -> tuple[float, float]:
        half = 100 * (fit.half_width(level / 100) or 0.0) * spread / expected if expected else 0.0
        return max(0.0, point - half), min(100.0, point + half)
