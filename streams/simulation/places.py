"""A state's simulated precincts: counties, sizes, partisan lean, and when each one reports.

How a precinct reports (the same times for every race on its ballot):
- an early/mail dump minutes after polls close (most precincts), leaning Democratic;
- sometimes a partial election-day count, then the full election-day count (hours later);
- in states that count slowly (`State.late`), a late count days later, leaning Democratic
  too: California spends days near three quarters counted.
Report times are stamped once here, per precinct, and shared by all its races.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from streams.simulation.clock import DAY_MS, HOUR_MS, MINUTE_MS, Clock, seconds
from streams.simulation.geography import State

# Mail, early and late ballots lean Democratic, election-day ballots Republican (2020-24 pattern):
# factor on the share of a candidate's votes in those components, by ballot position (the
# ballots have at most four candidates).
EARLY_TILT = (1.25, 0.75, 1.0, 1.0)


# Not frozen: a frozen dataclass takes ~3x as long to build, and there is one per precinct.
@dataclass(slots=True)
class Plan:
    """When a precinct reports, and what share of each candidate's final votes each report
    holds. Reports come in this order: early (most precincts), up to two election-day counts in
    progress, the full election-day count, a late count days later (slow-counting states)."""

    times: tuple[int, ...]  # epoch ms of each report, in report (seq) order
    stamps: tuple[bytes, ...]  # the same times as RFC 3339 text
    # Per report but the last (which is all of the votes): the share of each ballot position's
    # final votes counted by then. Never decreasing, never above 1, so neither are the counts.
    shares: tuple[tuple[float, ...], ...]


@dataclass(slots=True)
class Precinct:
    county_fips: str
    fips: bytes  # county_fips and precinct_id as they go into a report line
    precinct_id: bytes
    turnout: int
    lean_factor: float  # exp(lean): the leading candidate's weight times it, the runner-up's over it
    plan: Plan


def split_evenly(total: int, weights: Sequence[float]) -> list[int]:
    """`total` split by `weights` into whole numbers that add up exactly (largest remainder)."""
    scale = total / sum(weights)
    raw = [w * scale for w in weights]
    parts = [int(r) for r in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: parts[i] - raw[i])
    for i in by_remainder[: total - sum(parts)]:
        parts[i] += 1
    return parts


def report_times(rng: random.Random, state: State, close_ms: int) -> tuple[list[int], bool, int, float]:
    """(times in report order, early?, partial counts, late share) of one precinct."""
    rand = rng.random
    eday_ms = seconds(close_ms + 45 * MINUTE_MS + min(-math.log(1.0 - rand()) * 100 * MINUTE_MS, 10 * HOUR_MS))
    early = rand() < 0.85
    times = [seconds(close_ms + MINUTE_MS + 44 * MINUTE_MS * rand())] if early else []
    # Big precincts count in batches: no partial count (35%), one (40%) or two (25%).
    draw = rand()
    partials = 0 if draw < 0.35 else 1 if draw < 0.75 else 2
    span = 0.9 * (eday_ms - close_ms) - 30 * MINUTE_MS
    times += sorted(seconds(close_ms + 30 * MINUTE_MS + span * rand()) for _ in range(partials))
    times.append(eday_ms)
    late_chance = min(1.0, state.late * 4)
    if rand() >= late_chance:
        return times, early, partials, 0.0
    late_frac = min(0.8, state.late / late_chance * (0.5 + rand()))
    times.append(seconds(eday_ms + 6 * HOUR_MS + (DAY_MS * (1 + 20 * state.late) - 6 * HOUR_MS) * rand()))
    return times, early, partials, late_frac


def counted_shares(early: bool, partials: int, early_frac: float, late_frac: float) -> list[tuple[float, ...]]:
    """Per report but the last, the share of each position's votes counted by then. (List
    comprehensions, not generators: this runs for every precinct and they are 3x faster.)"""
    early_in = [early_frac * t for t in EARLY_TILT]
    eday_in = [max(e, 1 - late_frac * t) for e, t in zip(early_in, EARLY_TILT, strict=True)] if late_frac \
        else [1.0] * len(EARLY_TILT)
    shares = [tuple(early_in)] if early else []
    for k in range(1, partials + 1):
        step = k / (partials + 1)
        shares.append(tuple([e + (d - e) * step for e, d in zip(early_in, eday_in, strict=True)]))
    if late_frac:
        shares.append(tuple(eday_in))
    return shares


def precinct_plan(rng: random.Random, clock: Clock, state: State, close_ms: int) -> Plan:
    times, early, partials, late_frac = report_times(rng, state, close_ms)
    early_frac = (0.25 + 0.35 * rng.random()) * (1 - late_frac) if early else 0.0
    return Plan(tuple(times), tuple(map(clock.stamp, times)),
                tuple(counted_shares(early, partials, early_frac, late_frac)))


def county_layout(rng: random.Random, state: State, counties: int, precincts: int) -> list[tuple[str, int, float]]:
    """(FIPS, precincts, lean) per county: sizes lognormal (a few big cities, many small ones)."""
    weights = [rng.lognormvariate(0, 1.2) for _ in range(counties)]
    spare = split_evenly(precincts - counties, weights) if precincts > counties else [0] * counties
    return [(f"{state.fips}{2 * i + 1:03d}", 1 + n, rng.gauss(0, 0.35)) for i, n in enumerate(spare)]


def state_precincts(rng: random.Random, clock: Clock, state: State, counties: int, precincts: int,
                    close_ms: int) -> list[Precinct]:
    # Keep real precinct sizes when a preset scales precincts down: votes scale with them.
    mean_turnout = state.votes_2020 * 1000 / state.precincts
    out = []
    for fips, count, county_lean in county_layout(rng, state, counties, precincts):
        code = fips.encode()
        for n in range(1, count + 1):
            out.append(Precinct(fips, code, b"%s-%04d" % (code, n),
                                max(20, int(mean_turnout * rng.lognormvariate(-0.08, 0.4))),
                                math.exp(county_lean + rng.gauss(0, 0.25)), precinct_plan(rng, clock, state, close_ms)))
    return out
