"""Precinct reports: final votes, the cumulative count at each report, and their recording lines.

Every precinct of every race passes through here (~310,000 times for the us preset, ~1M
reports), so the code is written for speed: votes as plain int lists, lines filled into a byte
template, random draws only where something is decided. Besides the honest reports:
- rarely, a count reported too high and corrected down later (a real correction);
- deliveries that are re-sent (duplicates) or arrive after a newer report (out of order): both
  are lower-`seq` reports a correct worker drops;
- on request, malformed copies (raw payloads the contract refuses).
How the reports become records (one each, race batches, or state polls) is `packaging`'s and
`polls`' business: this module decides what is sent and when it arrives, the same for each.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from operator import mul
from typing import Any, Protocol

from streams import contract
from streams.errors import ConfigError
from streams.simulation.ballot import Race
from streams.simulation.clock import HOUR_MS, MINUTE_MS, Clock, seconds
from streams.simulation.places import EARLY_TILT, Precinct


@dataclass(frozen=True)
class Options:
    election_id: str = "2024-11-05"
    mode: str = "live"
    malformed: float = 0.0
    duplicates: float = 0.02
    out_of_order: float = 0.01
    corrections: float = 0.004
    batch_window_ms: int | None = MINUTE_MS  # None: one record per report
    per_race: bool = False  # one precinct-batch/1 per race and window instead of a state-poll/1 per state
    max_batch_bytes: int = contract.MAX_PAYLOAD_BYTES
    baseline: bool = False  # also make each race's previous election (`streams.simulation.baseline`)
    calls: bool = False  # race calls, a runoff and vote-for-2 contests (`streams.simulation.calls`)
    retraction_state: str | None = None  # with calls: the state whose president call is retracted once


class Deliveries(Protocol):
    """Where a race's reports go as they are made (`streams.simulation.packaging`). A report is
    its fields in template order: FIPS, precinct, seq, reported_at text, votes..., complete."""

    def deliver(self, at: int, reported_ms: int, report: tuple[Any, ...]) -> None:
        """The report arrives at `at` (ms); `reported_ms` is its `reported_at`."""

    def deliver_malformed(self, at: int, reported_ms: int, report: tuple[Any, ...], rng: random.Random) -> None:
        """A broken copy of the report just delivered; draws its kind from `rng`, the night's."""

    def delivered_at(self, arrived_ms: int) -> int:
        """When a report that arrived at `arrived_ms` is on the topic."""

    def finish(self) -> None:
        """Writes what is still held (race batches; state polls wait for the state's every race)."""


def final_votes(race: Race, places: Sequence[Precinct]) -> list[list[int]]:
    """Final votes per precinct: the state shares with the two leaders moved by the precinct's
    lean, then each candidate scaled so the state's final shares are the race's shares."""
    lead, second, *others = race.shares
    rest = sum(others)
    raw = []
    for p in places:
        w0, w1 = lead * p.lean_factor, second / p.lean_factor
        scale = p.turnout / (w0 + w1 + rest)
        raw.append((w0 * scale, w1 * scale, *map(scale.__mul__, others)))
    totals = [sum(column) for column in zip(*raw, strict=True)]
    grand = sum(totals)
    factors = [grand * s / 100 / t if t else 0.0 for s, t in zip(race.shares, totals, strict=True)]
    return [list(map(round, map(mul, row, factors))) for row in raw]


def cumulative_votes(p: Precinct, final: list[int]) -> list[list[int]]:
    """The cumulative votes at each report of `p`, in report order; the last is `final`.
    Rounding a non-decreasing share of a count is non-decreasing too: counts never go down."""
    return [*(list(map(round, map(mul, final, shares))) for shares in p.shares), final]


def with_correction(rng: random.Random, clock: Clock, rows: list[list[int]], times: Sequence[int],
                    stamps: Sequence[bytes]) -> tuple[list[int], list[bytes], list[list[int]]]:
    """The last report too high for one candidate, then corrected down to the real count."""
    final = rows[-1]
    wrong = list(final)
    i = rng.randrange(len(wrong))
    wrong[i] += max(1, wrong[i] // 50)
    fixed_ms = seconds(times[-1] + rng.uniform(HOUR_MS, 20 * HOUR_MS))
    return [*times, fixed_ms], [*stamps, clock.stamp(fixed_ms)], [*rows[:-1], wrong, final]


def delivery_times(rng: random.Random, times: Sequence[int], out_of_order: float) -> Sequence[int]:
    """When each report arrives: an out-of-order report is held up until after the next one
    (it is then stale: a lower seq than what was already applied)."""
    delivered: list[int] | None = None
    for k in range(len(times) - 1):
        if rng.random() < out_of_order:
            delivered = delivered or list(times)
            delivered[k] = times[k + 1] + 1000 * rng.randint(1, 300)
    return delivered or times


@dataclass(frozen=True)
class RaceReports:
    """What every precinct report of one race shares."""

    rng: random.Random
    clock: Clock
    options: Options
    key: str
    deliveries: Deliveries

    @classmethod
    def of(cls, rng: random.Random, clock: Clock, options: Options, race: Race, key: str,
           deliveries: Deliveries) -> RaceReports:
        if len(race.candidates) > len(EARLY_TILT):
            raise ConfigError(f"{key}: the simulator handles at most {len(EARLY_TILT)} candidates per race")
        return cls(rng, clock, options, key, deliveries)


def report_rows(race: RaceReports, p: Precinct, final: list[int]) -> tuple[Sequence[int], Sequence[bytes],
                                                                             list[list[int]]]:
    """(times, stamps, cumulative votes) of each report of one precinct in one race."""
    rows = cumulative_votes(p, final)
    if race.rng.random() < race.options.corrections:
        return with_correction(race.rng, race.clock, rows, p.times, p.stamps)
    return p.times, p.stamps, rows


def precinct_reports(race: RaceReports, p: Precinct, final: list[int]) -> int:
    """Delivers one precinct's reports in one race (with re-sends and malformed copies); returns
    when the last one arrived. The hottest loop of the simulator: methods bound to locals."""
    times, stamps, rows = report_rows(race, p, final)
    arrivals = delivery_times(race.rng, times, race.options.out_of_order)
    deliver, rand = race.deliveries.deliver, race.rng.random
    duplicates, malformed, fips, pid, last = race.options.duplicates, race.options.malformed, p.fips, \
        p.precinct_id, len(rows) - 1
    for seq, row in enumerate(rows):
        at = arrivals[seq]
        report = (fips, pid, seq, stamps[seq], *row, b"true" if seq == last else b"false")
        deliver(at, times[seq], report)
        if seq and rand() < duplicates:  # an earlier report delivered again
            k, again = race.rng.randrange(seq), at + 1000 * race.rng.randint(1, 600)
            deliver(again, times[k], (fips, pid, k, stamps[k], *rows[k], b"false"))
        if malformed and rand() < malformed:
            race.deliveries.deliver_malformed(at, times[seq], report, race.rng)
    return max(arrivals)
