"""Race calls on a simulated night (`votewire simulate --calls`): the desk's and AP's decisions,
a retraction, a runoff, and vote-for-2 county contests.

Only with `--calls`: without it a night is byte for byte what it was. With it:
- **More contests**: in every county a `commission-at-large-{fips}` contest (vote for 2, four
  candidates); in a state whose general elections need a majority (Georgia, 50%), a three-way
  special election whose leader stays under it (a runoff), and that threshold on every race but
  president's.
- **Calls**, each a `race-call/1` record from their own generator (`{seed}/{state}/calls`, so the
  night's other draws do not move): every race is `too_early` at poll close; once its last report
  is on the topic it is `called` for its top N by the final count (or goes to a `runoff` between
  its top two when the leader ends under the threshold), by AP or by the desk. The president race
  of the night's first state is called early by the desk, retracted half an hour later, and
  called for good at the end by AP: a retraction to rehearse. The truth file says each race's
  final call (`call`: status, winners, by).
"""

from __future__ import annotations

import random
from typing import Any

from streams import contract
from streams.contract.calls import CallStatus
from streams.geo.geography import State
from streams.simulation.ballot import Candidate, Race, normalised
from streams.simulation.clock import MINUTE_MS, Clock
from streams.simulation.downballot import contest_rng

MAJORITY_STATES = {"GA": 50.0}  # general elections won outright only above this share
DESK = "Votewire Desk"
COMMISSIONERS = (Candidate("dem-1", "Democratic candidate 1", "DEM", "Democrat 1"),
                 Candidate("dem-2", "Democratic candidate 2", "DEM", "Democrat 2"),
                 Candidate("rep-1", "Republican candidate 1", "REP", "Republican 1"),
                 Candidate("rep-2", "Republican candidate 2", "REP", "Republican 2"))
SPECIAL = (Candidate("alvarez", "Maria Alvarez", "DEM", "Alvarez"), Candidate("brooks", "Tom Brooks", "REP", "Brooks"),
           Candidate("chen", "Lena Chen", "IND", "Chen"))
EARLY_CALL_MS, RETRACTION_MS = 60 * MINUTE_MS, 90 * MINUTE_MS  # after poll close, for the retraction rehearsal


def with_call_rules(state: State, races: list[Race], counties: list[str]) -> list[Race]:
    """The ballot with the contests and thresholds `--calls` adds (see the module's docstring)."""
    threshold = MAJORITY_STATES.get(state.postal)
    ruled = [r if threshold is None or r.race_id == "president" else _replace_threshold(r, threshold) for r in races]
    if threshold is not None:
        swing = contest_rng(state, "special-superintendent").uniform(-2, 2)
        ruled.append(Race("special-superintendent", "State School Superintendent (special)", state, SPECIAL,
                          normalised((44 + swing, 41 - swing, 15)), win_threshold=threshold))
    for fips in counties:
        rng = contest_rng(state, f"commission-at-large-{fips}")
        dem = rng.uniform(35, 65)
        shares = normalised((dem * 0.55, dem * 0.45, (100 - dem) * 0.54, (100 - dem) * 0.46))
        ruled.append(Race(f"commission-at-large-{fips}", f"County Commission, At Large ({fips})", state,
                          COMMISSIONERS, shares, county_fips=fips, seats=2))
    return ruled


def _replace_threshold(race: Race, threshold: float) -> Race:
    return Race(race.race_id, race.office, race.state, race.candidates, race.shares, race.districts, race.district,
                race.county_fips, race.seats, threshold)


def definition_fields(race: Race) -> dict[str, Any]:
    """A definition's fields for how the race is won, only where they differ from the defaults."""
    fields: dict[str, Any] = {}
    if race.seats != 1:
        fields["seats"] = race.seats
    if race.win_threshold is not None:
        fields["win_threshold"] = race.win_threshold
    return fields


def final_call(race: Race, totals: list[int]) -> tuple[CallStatus, list[str]]:
    """Who the final count elects: the top N, or the top two to a runoff under the threshold."""
    ranked = sorted(zip(race.candidates, totals, strict=True), key=lambda ct: (-ct[1], ct[0].candidate_id))
    grand = sum(totals)
    if race.win_threshold is not None and 100 * ranked[0][1] <= race.win_threshold * grand:
        return "runoff", [c.candidate_id for c, _ in ranked[:2]]
    return "called", [c.candidate_id for c, _ in ranked[:race.seats]]


def emit_calls(out: Any, rng: random.Random, clock: Clock, mode: str, race: Race, key: str, totals: list[int],
               close_ms: int, final_ms: int, rehearse_retraction: bool) -> dict[str, Any]:
    """The race's calls as recording lines on `out`; returns its final call for the truth file."""
    status, winners = final_call(race, totals)
    by = "AP" if rng.random() < 0.5 else DESK
    calls: list[tuple[int, CallStatus, list[str], str]] = [(close_ms, "too_early", [], "AP")]
    if rehearse_retraction:
        calls += [(close_ms + EARLY_CALL_MS, status, winners, DESK), (close_ms + RETRACTION_MS, "retracted", [], DESK)]
        by = "AP"
    calls.append((final_ms, status, winners, by))
    for at_ms, call_status, call_winners, call_by in calls:
        value = contract.race_call_value(key, "test" if mode == "test" else "live", call_status, call_winners,
                                         call_by, clock.rfc3339(at_ms), at_ms)
        out.add_value(at_ms, contract.RACE_CALLS, contract.race_call_key(value), value)
    return {"status": status, "winners": winners, "by": by}


def add_final_call(truth: dict[str, Any], call: dict[str, Any], race: Race) -> None:
    truth["call"] = call
    truth.update(definition_fields(race))
    truth["tabulation_status"] = "certified"  # the simulator certifies every race at the end
