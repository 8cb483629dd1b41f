"""One simulated election night: places, votes, reporting curves, and the records they make.

The night is built state by state from one seeded `random.Random`, always in the same order,
so a seed gives the same records byte for byte. Each record becomes its recording line at
once (orjson bytes, no per-record objects kept) and is sorted by delivery time at the end.

How a precinct reports (the same times for every race on its ballot):
- an early/mail dump minutes after polls close (most precincts), leaning Democratic;
- sometimes a partial election-day count, then the full election-day count (hours later);
- in states that count slowly (`State.late`), a late count days later, leaning Democratic
  too: California spends days near three quarters counted;
- rarely, a count reported too high and corrected down later (a real correction);
- deliveries that are re-sent (duplicates) or arrive after a newer report (out of order): both
  are lower-`seq` reports a correct worker drops.
The truth (final totals) comes from the votes generated here, never from re-reading the output.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from streams import contract
from streams.simulation.ballot import Race
from streams.simulation.geography import State
from streams.simulation.malformed import malformed_payload

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
# Mail, early and late ballots lean Democratic, election-day ballots Republican (2020-24 pattern):
# factor on the share of a candidate's votes in those components, by ballot position.
EARLY_TILT = (1.25, 0.75)


@dataclass(frozen=True)
class Options:
    election_id: str = "2024-11-05"
    mode: str = "live"
    malformed: float = 0.0
    duplicates: float = 0.02
    out_of_order: float = 0.01
    corrections: float = 0.004


@dataclass(slots=True)
class Plan:
    """When a precinct reports, and which share of its votes each report adds."""

    early_ms: int | None
    early_frac: float
    partial_ms: tuple[int, ...]  # election-day counts in progress
    eday_ms: int
    late_ms: int | None
    late_frac: float


@dataclass
class Night:
    """Accumulates the night's lines (ts, serial, bytes) and its truth."""

    rng: random.Random
    options: Options
    lines: list[tuple[int, int, bytes]] = field(default_factory=list)
    truth: dict[str, Any] = field(default_factory=dict)
    malformed_count: int = 0
    _times: dict[int, str] = field(default_factory=dict)  # minute -> "YYYY-MM-DDTHH:MM:"

    def rfc3339(self, ms: int) -> str:
        """`2024-11-06T01:23:45Z`. strftime once per minute, not once per record: a large saving."""
        minute, second = divmod(ms // 1000, 60)
        prefix = self._times.get(minute)
        if prefix is None:
            prefix = self._times[minute] = time.strftime("%Y-%m-%dT%H:%M:", time.gmtime(minute * 60))
        return f"{prefix}{second:02d}Z"

    def add(self, ts_ms: int, topic: str, key: str, value: Any) -> None:
        line = b'{"ts":%d,"topic":"%s","key":"%s","value":%s}\n' % (
            ts_ms, topic.encode(), key.encode(), orjson.dumps(value))
        self.lines.append((ts_ms, len(self.lines), line))

    def add_payload(self, ts_ms: int, topic: str, key: str, payload: str) -> None:
        line = orjson.dumps({"ts": ts_ms, "topic": topic, "key": key, "payload": payload}) + b"\n"
        self.lines.append((ts_ms, len(self.lines), line))
        self.malformed_count += 1

    def sorted_lines(self) -> list[bytes]:
        self.lines.sort()  # (ts, serial): serial is unique, so bytes are never compared
        return [line for _, _, line in self.lines]


def seconds(ms: float) -> int:
    """Source times in whole seconds, as feeds send them."""
    return int(ms) // 1000 * 1000


def split_evenly(total: int, weights: Sequence[float]) -> list[int]:
    """`total` split by `weights` into whole numbers that add up exactly (largest remainder)."""
    scale = total / sum(weights)
    raw = [w * scale for w in weights]
    parts = [int(r) for r in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: parts[i] - raw[i])
    for i in by_remainder[: total - sum(parts)]:
        parts[i] += 1
    return parts


def precinct_plan(rng: random.Random, state: State, close_ms: int) -> Plan:
    eday_ms = seconds(close_ms + 45 * MINUTE_MS + min(rng.expovariate(1 / (100 * MINUTE_MS)), 10 * HOUR_MS))
    early = rng.random() < 0.85
    # Big precincts count in batches: no partial count (35%), one (40%) or two (25%).
    draw = rng.random()
    partials = 0 if draw < 0.35 else 1 if draw < 0.75 else 2
    partial_ms = sorted(seconds(close_ms + rng.uniform(30 * MINUTE_MS, 0.9 * (eday_ms - close_ms)))
                        for _ in range(partials))
    late_chance = min(1.0, state.late * 4)
    late = rng.random() < late_chance
    late_frac = min(0.8, state.late / late_chance * rng.uniform(0.5, 1.5)) if late else 0.0
    late_ms = seconds(eday_ms + rng.uniform(6 * HOUR_MS, DAY_MS * (1 + 20 * state.late))) if late else None
    return Plan(seconds(close_ms + rng.uniform(MINUTE_MS, 45 * MINUTE_MS)) if early else None,
                rng.uniform(0.25, 0.6) * (1 - late_frac) if early else 0.0,
                tuple(partial_ms), eday_ms, late_ms, late_frac)


def precinct_votes(rng: random.Random, race: Race, turnout: int, lean: float) -> list[int]:
    """Final votes: the state shares, the two leaders moved by the precinct's lean (log-odds)."""
    weights = list(race.shares)
    weights[0] *= math.exp(lean)
    weights[1] *= math.exp(-lean)
    return split_evenly(turnout, weights)


def calibrate(votes: list[list[int]], shares: Sequence[float]) -> None:
    """Rescale each candidate so the state's final shares are the race's shares (in place)."""
    totals = [sum(col) for col in zip(*votes, strict=True)]
    grand = sum(totals)
    factors = [(grand * s / 100) / t if t else 0.0 for s, t in zip(shares, totals, strict=True)]
    for row in votes:
        row[:] = [round(v * f) for v, f in zip(row, factors, strict=True)]


def cumulative_reports(plan: Plan, final: list[int]) -> list[tuple[int, list[int]]]:
    """(time, cumulative votes) per report of one precinct in one race. One loop, no helpers:
    this runs for every precinct of every race."""
    early, eday_done, late_frac, early_frac = [], [], plan.late_frac, plan.early_frac
    for i, v in enumerate(final):
        tilt = EARLY_TILT[i] if i < len(EARLY_TILT) else 1.0
        e = int(v * early_frac * tilt + 0.5)  # early_frac * tilt < 0.75: never above v
        lt = min(v - e, int(v * late_frac * tilt + 0.5))
        early.append(e)
        eday_done.append(v - lt)
    steps = [(plan.early_ms, early)] if plan.early_ms is not None else []
    for k, ms in enumerate(plan.partial_ms, start=1):
        share = k / (len(plan.partial_ms) + 1)
        steps.append((ms, [e + int((d - e) * share) for e, d in zip(early, eday_done, strict=True)]))
    steps.append((plan.eday_ms, eday_done))
    if plan.late_ms is not None:
        steps.append((plan.late_ms, final))
    return steps


def with_correction(rng: random.Random, steps: list[tuple[int, list[int]]]) -> list[tuple[int, list[int]]]:
    """The last report too high for one candidate, then corrected down to the real count."""
    last_ms, final = steps[-1]
    wrong = list(final)
    i = rng.randrange(len(wrong))
    wrong[i] += max(1, wrong[i] // 50)
    return [*steps[:-1], (last_ms, wrong), (seconds(last_ms + rng.uniform(HOUR_MS, 20 * HOUR_MS)), final)]


def delivery_times(rng: random.Random, steps: list[tuple[int, list[int]]], options: Options) -> list[int]:
    """When each report arrives: an out-of-order report is held up until after the next one
    (it is then stale: a lower seq than what was already applied)."""
    times = [t for t, _ in steps]
    for k in range(len(times) - 1):
        if rng.random() < options.out_of_order:
            times[k] = times[k + 1] + 1000 * rng.randint(1, 300)
    return times


@dataclass(frozen=True)
class Precinct:
    county_fips: str
    precinct_id: str
    turnout: int
    lean: float
    plan: Plan


def county_layout(rng: random.Random, state: State, counties: int, precincts: int) -> list[tuple[str, int, float]]:
    """(FIPS, precincts, lean) per county: sizes lognormal (a few big cities, many small ones)."""
    weights = [rng.lognormvariate(0, 1.2) for _ in range(counties)]
    spare = split_evenly(precincts - counties, weights) if precincts > counties else [0] * counties
    return [(f"{state.fips}{2 * i + 1:03d}", 1 + n, rng.gauss(0, 0.35)) for i, n in enumerate(spare)]


def state_precincts(rng: random.Random, state: State, counties: int, precincts: int,
                    close_ms: int) -> list[Precinct]:
    # Keep real precinct sizes when a preset scales precincts down: votes scale with them.
    mean_turnout = state.votes_2020 * 1000 / state.precincts
    out = []
    for fips, count, county_lean in county_layout(rng, state, counties, precincts):
        for n in range(count):
            out.append(Precinct(fips, f"{fips}-{n + 1:04d}",
                                max(20, int(mean_turnout * rng.lognormvariate(-0.08, 0.4))),
                                county_lean + rng.gauss(0, 0.25), precinct_plan(rng, state, close_ms)))
    return out


def race_definition(night: Night, race: Race, precincts_total: int, close_ms: int,
                    certified: bool) -> dict[str, Any]:
    value: dict[str, Any] = {
        "schema": "race-definition/1", "election_id": night.options.election_id, "race_id": race.race_id,
        "state": race.state.postal, "office": race.office,
        "candidates": [{"candidate_id": c.candidate_id, "name": c.name, "party": c.party,
                        "short_name": c.short_name} for c in race.candidates],
        "precincts_total": precincts_total, "polls_close": night.rfc3339(close_ms),
        "certified": certified, "simulated": True}
    if race.race_id == "president":
        value["previous"] = [{"election_id": "2020-11-03",
                              "shares": {"DEM": race.state.dem_2020, "REP": race.state.rep_2020}}]
    return value


def report_template(night: Night, race: Race, key: str) -> bytes:
    """The recording line of a precinct report with %-holes: ts, FIPS, precinct, seq, time,
    each candidate's votes, complete. Exactly the bytes orjson writes for the same dict (the
    tests check), at a fraction of the cost of building and dumping a dict per record."""
    votes = ",".join(f'"{c.candidate_id}":%d' for c in race.candidates)
    return ('{"ts":%d,"topic":"' + contract.PRECINCT_RESULTS + '","key":"' + key + '","value":{'
            '"schema":"precinct-result/1","election_id":"' + night.options.election_id + '","race_id":"'
            + race.race_id + '","state":"' + race.state.postal + '","county_fips":"%s","precinct_id":"%s",'
            '"seq":%d,"reported_at":"%s","votes":{' + votes + '},"complete":%s,"mode":"'
            + night.options.mode + '"}}\n').encode()


def precinct_reports(night: Night, key: str, template: bytes, p: Precinct, final: list[int]) -> int:
    """Adds one precinct's reports in one race (with re-sends and malformed copies); last time."""
    rng, options, lines = night.rng, night.options, night.lines
    steps = cumulative_reports(p.plan, final)
    if rng.random() < options.corrections:
        steps = with_correction(rng, steps)
    times = delivery_times(rng, steps, options)
    fips, pid, last = p.county_fips.encode(), p.precinct_id.encode(), len(steps) - 1
    fields = [(fips, pid, seq, night.rfc3339(ms).encode(), *votes, b"true" if seq == last else b"false")
              for seq, (ms, votes) in enumerate(steps)]
    for seq, values in enumerate(fields):
        lines.append((times[seq], len(lines), template % (times[seq], *values)))
        if seq and rng.random() < options.duplicates:  # an earlier report delivered again
            at = times[seq] + 1000 * rng.randint(1, 600)
            lines.append((at, len(lines), template % (at, *fields[rng.randrange(seq)])))
        if options.malformed and rng.random() < options.malformed:
            value = orjson.loads(template % (times[seq], *values))["value"]
            night.add_payload(times[seq] + 1, contract.PRECINCT_RESULTS, key, malformed_payload(rng, value))
    return max(times)


# When estimates are issued, relative to poll closing, and how far off each one is (sd).
ESTIMATES = ((-30 * MINUTE_MS, 0.06), (2 * HOUR_MS, 0.03), (6 * HOUR_MS, 0.015), (DAY_MS, 0.006),
             (3 * DAY_MS, 0.003))


def expected_votes(night: Night, race: Race, key: str, county_totals: dict[str, int], close_ms: int,
                   last_ms: int) -> None:
    """Estimates revised as the night goes on (higher seq each), the last one exact."""
    rng, total = night.rng, sum(county_totals.values())
    issues = [(close_ms + at, sd) for at, sd in ESTIMATES if close_ms + at < last_ms] + [(last_ms + MINUTE_MS, 0.0)]
    for seq, (at_ms, sd) in enumerate(issues):
        factor = rng.gauss(1, sd) if sd else 1.0
        night.add(at_ms, contract.EXPECTED_VOTES, key, {
            "schema": "expected-vote/1", "election_id": night.options.election_id, "race_id": race.race_id,
            "state": race.state.postal, "expected_votes": max(1, int(round(total * factor, -2 if sd else 0))),
            "county_expected": {fips: max(1, round(n * factor * (rng.gauss(1, sd / 2) if sd else 1)))
                                for fips, n in county_totals.items()},
            "seq": seq, "issued_at": night.rfc3339(at_ms)})


def race_truth(race: Race, finals: list[list[int]]) -> dict[str, Any]:
    totals = [sum(col) for col in zip(*finals, strict=True)]
    return {"total_votes": sum(totals),
            "votes": {c.candidate_id: n for c, n in zip(race.candidates, totals, strict=True)},
            "precincts_reporting": len(finals), "precincts_total": len(finals)}


def simulate_state(night: Night, state: State, races: list[Race], counties: int, precincts: int,
                   day_ms: int) -> None:
    """Every record of one state's night. `day_ms` is election day, 00:00 UTC."""
    close_ms = day_ms + int((state.close_et + 5) * HOUR_MS)  # Eastern Standard Time is UTC-5 in November
    places = state_precincts(night.rng, state, counties, precincts, close_ms)
    for race in races:
        finals = [precinct_votes(night.rng, race, p.turnout, p.lean) for p in places]
        calibrate(finals, race.shares)
        key = contract.race_key(night.options.election_id, race.race_id, state.postal)
        night.add(close_ms - 3 * HOUR_MS, contract.RACE_DEFINITIONS, key,
                  race_definition(night, race, len(places), close_ms, certified=False))
        template = report_template(night, race, key)
        last_ms = max(precinct_reports(night, key, template, p, final)
                      for p, final in zip(places, finals, strict=True))
        county_totals: dict[str, int] = {}
        for p, final in zip(places, finals, strict=True):
            county_totals[p.county_fips] = county_totals.get(p.county_fips, 0) + sum(final)
        expected_votes(night, race, key, county_totals, close_ms, last_ms)
        night.add(last_ms + 2 * MINUTE_MS, contract.RACE_DEFINITIONS, key,
                  race_definition(night, race, len(places), close_ms, certified=True))
        night.truth[f"{key}/{night.options.mode}"] = race_truth(race, finals)
