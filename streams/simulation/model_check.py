"""The simulated half of `make model-check`: the model scored on simulated nights.

Nights of a preset made in process with their baselines (`votewire simulate --baseline`), every
race's records replayed in delivery order through `streams.model.check.RaceReplay`, which
scores the model against the night's truth when the race first reaches 25%, 50% and 75% of
its final vote.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from streams import contract
from streams.model.baselines import parse_baseline
from streams.model.calibration import Score, Truth
from streams.model.check import RaceReplay, apply_record
from streams.simulation.generate import PRESETS, ballot, layout
from streams.simulation.night import NightOutput, Options, simulate_state

ELECTION_DAY_MS = int(datetime(2024, 11, 5, tzinfo=UTC).timestamp() * 1000)


def simulated_scores(seed: int, preset: str) -> list[Score]:
    """Every race/state of one seeded night of `preset`, scored at each checkpoint it passes."""
    scores: list[Score] = []
    for state, counties, precincts in layout(PRESETS[preset]):
        races = ballot(PRESETS[preset], state, counties, precincts, {})
        night = simulate_state(seed, Options(baseline=True), state, races, counties, precincts, ELECTION_DAY_MS)
        scores += night_scores(night)
    return scores


def night_scores(night: NightOutput) -> list[Score]:
    races = {key: RaceReplay({}, parse_baseline(value).units) for key, value in night.baselines.items()}
    for key, race in races.items():
        final = night.truth[f"{key}/live"]
        race.truth = Truth(final["total_votes"], final["votes"])
    scores = []
    for chunk in night.out.in_time_order(50_000):
        for line in chunk.splitlines():
            record = orjson.loads(line)
            if record["topic"] == contract.RACE_DEFINITIONS and record["key"] in races:
                races[record["key"]].parties = {c["candidate_id"]: c["party"] for c in record["value"]["candidates"]}
            elif record["topic"] == contract.PRECINCT_RESULTS and "value" in record:
                scores += apply_record(races, record["value"])
    return scores
