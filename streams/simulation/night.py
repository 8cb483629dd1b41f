"""One simulated election night: places, votes, reporting curves, and the records they make.

Each state's night comes from its own `random.Random`, seeded by the night's seed and the
state's postal code, so a seed gives the same records byte for byte (and a state the same
records whatever else the preset holds, whichever process makes it). Each record becomes its
recording line at once (bytes, no per-record objects kept; race batches once their race is
done, state polls once the state is); a state's lines are sorted by delivery time when it is
done. Precincts and their reporting times are in `places`, the precinct reports in `reports`,
how they are packed into records (state polls by default, race batches, or one each) in
`polls` and `packaging`. Precinct records are keyed by state (design rule 3).
The truth (final totals) comes from the votes generated here, never from re-reading the output.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from streams import contract
from streams.geo.geography import State
from streams.simulation.ballot import Race
from streams.simulation.baseline import baseline_value
from streams.simulation.calls import add_final_call, definition_fields, emit_calls
from streams.simulation.clock import DAY_MS, HOUR_MS, MINUTE_MS, Clock
from streams.simulation.lines import Lines
from streams.simulation.packaging import deliveries_for
from streams.simulation.places import Precinct, split_evenly, state_precincts
from streams.simulation.polls import StatePolls
from streams.simulation.reports import Deliveries, Options, RaceReports, final_votes, precinct_reports

__all__ = ["NightOutput", "Options", "simulate_state"]


@dataclass
class Night:
    """One state's night as it is made: its lines and its truth."""

    rng: random.Random
    packing_rng: random.Random  # the batches' own: packing never moves the night's draws
    options: Options
    out: Lines
    truth: dict[str, Any] = field(default_factory=dict)
    clock: Clock = field(default_factory=Clock)
    polls: StatePolls | None = None  # the state's polls, unless packed per race or one report a record
    baseline_rng: random.Random | None = None  # its own generator: a baseline never moves the night's draws
    baselines: dict[str, Any] = field(default_factory=dict)  # race key -> `baseline/1`, when asked for
    calls_rng: random.Random | None = None  # its own generator too: calls never move the night's draws

    def deliveries(self, race: Race) -> Deliveries:
        """Where `race`'s reports go: its state's polls, or a packer of its own. Either way its
        records are keyed by state (design rule 3)."""
        if self.polls is not None:
            return self.polls.race(race)
        key = contract.state_key(self.options.election_id, race.state.postal)
        return deliveries_for(self.out, self.options, race, key, self.packing_rng)


@dataclass
class NightOutput:
    """What a night, or one state of it, made: its lines (sorted by time per state) and its
    truth per race key."""

    out: Lines
    truth: dict[str, Any] = field(default_factory=dict)
    baselines: dict[str, Any] = field(default_factory=dict)

    def add(self, part: NightOutput) -> None:
        self.out.extend(part.out)
        self.truth.update(part.truth)
        self.baselines.update(part.baselines)


def race_definition(night: Night, race: Race, precincts_total: int, close_ms: int,
                    certified: bool) -> dict[str, Any]:
    value: dict[str, Any] = {
        "schema": "race-definition/1", "election_id": night.options.election_id, "race_id": race.race_id,
        "state": race.state.postal, "office": race.office,
        "candidates": [{"candidate_id": c.candidate_id, "name": c.name, "party": c.party,
                        "short_name": c.short_name} for c in race.candidates],
        "precincts_total": precincts_total, "polls_close": night.clock.rfc3339(close_ms),
        "certified": certified, "simulated": True, **definition_fields(race)}
    if race.race_id == "president":
        value["previous"] = [{"election_id": "2020-11-03",
                              "shares": {"DEM": race.state.dem_2020, "REP": race.state.rep_2020}}]
    return value


# When estimates are issued, relative to poll closing, and how far off each one is (sd).
ESTIMATES = ((-30 * MINUTE_MS, 0.06), (2 * HOUR_MS, 0.03), (6 * HOUR_MS, 0.015), (DAY_MS, 0.006),
             (3 * DAY_MS, 0.003))


def expected_votes(night: Night, race: Race, key: str, county_totals: dict[str, int],
                   close_ms: int, last_ms: int) -> None:
    """Estimates revised as the night goes on (higher seq each), the last one exact."""
    rng, total = night.rng, sum(county_totals.values())
    issues = [(close_ms + at, sd) for at, sd in ESTIMATES if close_ms + at < last_ms] + [(last_ms + MINUTE_MS, 0.0)]
    for seq, (at_ms, sd) in enumerate(issues):
        factor = rng.gauss(1, sd) if sd else 1.0
        night.out.add_value(at_ms, contract.EXPECTED_VOTES, key, {
            "schema": "expected-vote/1", "election_id": night.options.election_id, "race_id": race.race_id,
            "state": race.state.postal, "expected_votes": max(1, int(round(total * factor, -2 if sd else 0))),
            "county_expected": {fips: max(1, round(n * factor * (rng.gauss(1, sd / 2) if sd else 1)))
                                for fips, n in county_totals.items()},
            "seq": seq, "issued_at": night.clock.rfc3339(at_ms)})


def race_truth(race: Race, finals: list[list[int]]) -> dict[str, Any]:
    totals = [sum(col) for col in zip(*finals, strict=True)]
    return {"total_votes": sum(totals),
            "votes": {c.candidate_id: n for c, n in zip(race.candidates, totals, strict=True)},
            "precincts_reporting": len(finals), "precincts_total": len(finals)}


def county_totals(places: list[Precinct], finals: list[list[int]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for p, final in zip(places, finals, strict=True):
        totals[p.county_fips] = totals.get(p.county_fips, 0) + sum(final)
    return totals


def simulate_race(night: Night, race: Race, places: list[Precinct], close_ms: int) -> None:
    finals = final_votes(race, places)
    key = contract.race_key(night.options.election_id, race.race_id, race.state.postal)
    night.out.add_value(close_ms - 3 * HOUR_MS, contract.RACE_DEFINITIONS, key,
                        race_definition(night, race, len(places), close_ms, certified=False))
    deliveries = night.deliveries(race)
    reports = RaceReports.of(night.rng, night.clock, night.options, race, key, deliveries)
    last_ms = max(precinct_reports(reports, p, final) for p, final in zip(places, finals, strict=True))
    deliveries.finish()
    expected_votes(night, race, key, county_totals(places, finals), close_ms, last_ms)
    # Certified once the last report is on the topic (with batches, at the end of its window).
    night.out.add_value(deliveries.delivered_at(last_ms) + 2 * MINUTE_MS, contract.RACE_DEFINITIONS, key,
                        race_definition(night, race, len(places), close_ms, certified=True))
    truth = night.truth[f"{key}/{night.options.mode}"] = race_truth(race, finals)
    if night.calls_rng is not None:  # called once the last report is on the topic, before certification
        call = emit_calls(night.out, night.calls_rng, night.clock, night.options.mode, race, key,
                          list(truth["votes"].values()), close_ms, deliveries.delivered_at(last_ms) + MINUTE_MS,
                          race.race_id == "president" and race.state.postal == night.options.retraction_state)
        add_final_call(truth, call, race)
    if night.baseline_rng is not None:
        night.baselines[key] = baseline_value(night.baseline_rng, race, night.options.election_id,
                                              night.clock.rfc3339(close_ms - 3 * HOUR_MS), places, finals)


class BallotPlaces:
    """The precincts that vote in a race: all of the state's, a district's, or a county's."""

    def __init__(self, places: list[Precinct]) -> None:
        self.places = places
        self.by_county: dict[str, list[Precinct]] = {}
        for p in places:
            self.by_county.setdefault(p.county_fips, []).append(p)

    def of(self, race: Race) -> list[Precinct]:
        if race.county_fips is not None:
            return self.by_county[race.county_fips]
        if race.districts == 1:
            return self.places
        sizes = split_evenly(len(self.places), [1.0] * race.districts)
        start = sum(sizes[:race.district])
        return self.places[start:start + sizes[race.district]]


def simulate_state(seed: int, options: Options, state: State, races: list[Race], counties: int, precincts: int,
                   day_ms: int) -> NightOutput:
    """Every record of one state's night. `day_ms` is election day, 00:00 UTC. A state needs
    nothing from another, so states can be made in parallel (see `streams.commands.simulate`)."""
    close_ms = day_ms + int((state.close_et + 5) * HOUR_MS)  # Eastern Standard Time is UTC-5 in November
    rng = random.Random(f"{seed}/{state.postal}")  # noqa: S311 - a simulation, reproducible by seed
    packing_rng = random.Random(f"{seed}/{state.postal}/packing")  # noqa: S311 - as above
    night = Night(rng, packing_rng, options, Lines(day_ms))
    if options.batch_window_ms is not None and not options.per_race:
        key = contract.state_key(options.election_id, state.postal)
        night.polls = StatePolls(night.out, options, state.postal, key, packing_rng)
    if options.baseline:
        night.baseline_rng = random.Random(f"{seed}/{state.postal}/baseline")  # noqa: S311 - as above
    if options.calls:
        night.calls_rng = random.Random(f"{seed}/{state.postal}/calls")  # noqa: S311 - as above
    places = state_precincts(rng, night.clock, state, counties, precincts, close_ms)
    ballot = BallotPlaces(places)
    for race in races:
        simulate_race(night, race, ballot.of(race), close_ms)
    if night.polls is not None:
        night.polls.finish()
    night.out.sort()
    return NightOutput(night.out, night.truth, night.baselines)
