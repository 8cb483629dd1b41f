"""The simulated night's previous election: a `baseline/1` per race, made backwards from the truth.

`votewire simulate --baseline` writes one per race and state beside the night, so the model
of the vote still out can be run on a simulated night and compared with its final truth. The
baseline is drawn from the night's final votes with its own seeded generator (the night's
draws are untouched: with or without `--baseline` the recording is the same, byte for byte):

- turnout moved by a statewide factor, a county factor and a little per precinct, the county
  factor leaning with the county's partisanship (turnout fell more where one side is strong);
- the two leading candidates' shares swung by a statewide swing, a county swing that follows
  the county's lean (as 2024 swung hardest where Democrats had been strongest), and a little
  per precinct; the other candidates keep their shares.

Units are precincts, as the night reports them. The late-counted mail wave is the night's own
(`places`: in states that count slowly, a share of each precinct's ballots, leaning
Democratic, is counted days later): those precincts are incomplete until then.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

from streams.model.baselines import BASELINE_SCHEMA
from streams.simulation.ballot import Race
from streams.simulation.places import Precinct

# Standard deviations (log turnout ratio; swing in share points / 100) and the lean slopes.
STATE_TURNOUT_SD, COUNTY_TURNOUT_SD, PRECINCT_TURNOUT_SD = 0.05, 0.05, 0.03
TURNOUT_LEAN_SLOPE = -0.03
STATE_SWING_SD, COUNTY_SWING_SD, PRECINCT_SWING_SD = 0.02, 0.015, 0.01
SWING_LEAN_SLOPE = -0.02
BASELINE_ELECTION_ID = "2020-11-03"


def baseline_value(rng: random.Random, race: Race, election_id: str, issued_at: str, places: Sequence[Precinct],
                   finals: Sequence[Sequence[int]]) -> dict[str, Any]:
    """The race's `baseline/1` message: one row per precinct, parties in ballot order."""
    turnout, swing = rng.gauss(0, STATE_TURNOUT_SD), rng.gauss(0, STATE_SWING_SD)
    counties: dict[str, tuple[float, float]] = {}
    units = {}
    for p, final in zip(places, finals, strict=True):
        if p.county_fips not in counties:
            lean = math.log(p.lean_factor)  # the precinct's; the first one stands for its county
            counties[p.county_fips] = (turnout + rng.gauss(0, COUNTY_TURNOUT_SD) + TURNOUT_LEAN_SLOPE * abs(lean),
                                       swing + rng.gauss(0, COUNTY_SWING_SD) + SWING_LEAN_SLOPE * lean)
        county_turnout, county_swing = counties[p.county_fips]
        ratio = math.exp(county_turnout + rng.gauss(0, PRECINCT_TURNOUT_SD))
        units[p.precinct_id.decode()] = by_party(race, previous_row(final, ratio, county_swing +
                                                                     rng.gauss(0, PRECINCT_SWING_SD)))
    return {"schema": BASELINE_SCHEMA, "election_id": election_id, "race_id": race.race_id,
            "state": race.state.postal, "baseline_election_id": BASELINE_ELECTION_ID,
            "source": "votewire simulate (invented)", "seq": 0, "issued_at": issued_at,
            "parties": party_columns(race), "units": units,
            "unit_counties": {p.precinct_id.decode(): p.county_fips for p in places}}


def party_columns(race: Race) -> list[str]:
    return list(dict.fromkeys(c.party for c in race.candidates))


def by_party(race: Race, row: list[int]) -> list[int]:
    """[total, votes per candidate] -> [total, votes per party of `party_columns`]."""
    votes = dict.fromkeys(party_columns(race), 0)
    for candidate, n in zip(race.candidates, row[1:], strict=True):
        votes[candidate.party] += n
    return [row[0], *votes.values()]


def previous_row(final: Sequence[int], ratio: float, swing: float) -> list[int]:
    """[total, votes per candidate] of the previous election: this one's turnout divided by
    `ratio`, and `swing` (a share) given back from the first candidate to the second."""
    now = sum(final)
    total = max(1, round(now / ratio))
    shares = [v / now if now else 1 / len(final) for v in final]
    if len(shares) > 1:
        moved = min(max(swing, -shares[1]), shares[0])  # no share below 0
        shares[0] -= moved
        shares[1] += moved
    votes = [round(total * s) for s in shares]
    return [max(total, sum(votes)), *votes]
