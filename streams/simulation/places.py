"""A state's simulated precincts: counties, sizes, partisan lean, and when each one reports.

How a precinct reports (the same times for every race on its ballot):
- an early/mail dump minutes after polls close (most precincts), leaning Democratic;
- sometimes a partial election-day count, then the full election-day count (hours later);
- in states that count slowly (`State.late`), a late count days later, leaning Democratic
  too: California spends days near three quarters counted.
Report times are stamped once here, per precinct, and shared by all its races.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from streams.geo.geography import State
from streams.simulation.clock import Clock

# Mail, early and late ballots lean Democratic, election-day ballots Republican (2020-24 pattern):
# factor on the share of a candidate's votes in those components, by ballot position (the
# ballots have at most four candidates).
EARLY_TILT = (1.25, 0.75, 1.0, 1.0)


# Not frozen: a frozen dataclass takes ~3x as long to build, and there is one per precinct.
@dataclass(slots=True)
class Precinct:
    """A precinct, and when it reports. Reports come in this order: early (most precincts), up
    to two election-day counts in progress, the full election-day count, a late count days
    later (slow-counting states); the times are the same for every race on its ballot."""

    county_fips: str
    fips: bytes  # county_fips and precinct_id as they go into a report line
    precinct_id: bytes
    turnout: int
    lean_factor: float  # exp(lean): the leading candidate's weight times it, the runner-up's over it
    times: tuple[int, ...]  # epoch ms of each report, in report (seq) order
    stamps: tuple[bytes, ...]  # the same times as RFC 3339 text
    # Per report but the last (which is all of the votes): the share of each ballot position's
    # final votes counted by then. Never decreasing, never above 1, so neither are the counts.
    shares: tuple[tuple[float, ...], ...]


def split_evenly(total: int, weights: Sequence[float]) -> list[int]:
    """`total` split by `weights` into whole numbers that add up exactly (largest remainder)."""
    scale = total / sum(weights)
    raw = [w * scale for w in weights]
    parts = [int(r) for r in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: parts[i] - raw[i])
    for i in by_remainder[: total - sum(parts)]:
        parts[i] += 1
    return parts


def report_times(rng: random.Random, state: State, close_ms: int) -> tuple[list[int], tuple[tuple[float, ...], ...]]:
    """(times in report order, share counted at each report but the last) of one precinct.
    Whole seconds are drawn as ints and made milliseconds at the end: this runs per precinct."""
    rand, close_s = rng.random, close_ms // 1000
    eday_s = close_s + 2700 + int(min(-6000 * math.log(1.0 - rand()), 36_000))  # 45 min + ~100 min, <= 10 h
    early = rand() < 0.85
    times = [close_s + 60 + int(2640 * rand())] if early else []  # 1 to 45 minutes after polls close
    partials = partial_times(rand, close_s, eday_s, times)
    times.append(eday_s)
    late_chance = min(1.0, state.late * 4)
    late_pct = round(100 * min(0.8, state.late / late_chance * (0.5 + rand()))) if rand() < late_chance else 0
    if late_pct:  # 6 hours to 1 + 20 * late days later
        times.append(eday_s + 21_600 + int((86_400 * (1 + 20 * state.late) - 21_600) * rand()))
    early_pct = round((25 + 35 * rand()) * (1 - late_pct / 100)) if early else 0
    return [t * 1000 for t in times], counted_shares(early, partials, early_pct, late_pct)


def partial_times(rand: Callable[[], float], close_s: int, eday_s: int, times: list[int]) -> int:
    """Big precincts count in batches: no partial count (35%), one (40%) or two (25%), from 30
    minutes after polls close to 90% of the way to the full count. Appends them; how many."""
    draw = rand()
    if draw < 0.35:
        return 0
    start, span = close_s + 1800, 0.9 * (eday_s - close_s) - 1800
    if draw < 0.75:
        times.append(start + int(span * rand()))
        return 1
    a, b = start + int(span * rand()), start + int(span * rand())
    times += (a, b) if a <= b else (b, a)
    return 2


@functools.cache
def counted_shares(early: bool, partials: int, early_pct: int, late_pct: int) -> tuple[tuple[float, ...], ...]:
    """Per report but the last, the share of each position's votes counted by then. Early and
    late shares are whole percents so that the few thousand combinations are computed once."""
    early_in = [early_pct / 100 * t for t in EARLY_TILT]
    eday_in = [max(e, 1 - late_pct / 100 * t) for e, t in zip(early_in, EARLY_TILT, strict=True)]
    shares = [tuple(early_in)] if early else []
    for k in range(1, partials + 1):
        step = k / (partials + 1)
        shares.append(tuple(e + (d - e) * step for e, d in zip(early_in, eday_in, strict=True)))
    if late_pct:
        shares.append(tuple(eday_in))
    return tuple(shares)


def county_layout(rng: random.Random, state: State, counties: int, precincts: int) -> list[tuple[str, int, float]]:
    """(FIPS, precincts, lean) per county: sizes lognormal (a few big cities, many small ones)."""
    weights = [rng.lognormvariate(0, 1.2) for _ in range(counties)]
    spare = split_evenly(precincts - counties, weights) if precincts > counties else [0] * counties
    return [(code, 1 + n, rng.gauss(0, 0.35)) for code, n in zip(county_codes(state, counties), spare, strict=True)]


def county_codes(state: State, counties: int) -> list[str]:
    """The simulated counties' FIPS codes: odd numbers, as the Census gives original counties."""
    return [f"{state.fips}{2 * i + 1:03d}" for i in range(counties)]


def state_precincts(rng: random.Random, clock: Clock, state: State, counties: int, precincts: int,
                    close_ms: int) -> list[Precinct]:
    # Keep real precinct sizes when a preset scales precincts down: votes scale with them.
    mean_turnout = state.votes_2020 * 1000 / state.precincts
    gauss, stamp, out = rng.gauss, clock.stamp, []
    for fips, count, county_lean in county_layout(rng, state, counties, precincts):
        code = fips.encode()
        for n in range(1, count + 1):
            turnout = max(20, int(mean_turnout * math.exp(gauss(-0.08, 0.4))))  # lognormal
            lean_factor = math.exp(county_lean + gauss(0, 0.25))
            times, shares = report_times(rng, state, close_ms)
            out.append(Precinct(fips, code, b"%s-%04d" % (code, n), turnout, lean_factor, tuple(times),
                                tuple(map(stamp, times)), shares))
    return out
