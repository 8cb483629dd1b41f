"""The model of the vote still out, run on a tally: when it runs, on what, and what a snapshot says of it.

The model itself is `streams.model.estimate.project`; this is its place in the worker's counting.
It runs only where a state snapshot is built (`CountingRoom.due_state_snapshots`): in the publish
round, for a tally past its embargo, at most once per round, never per report and never in a
rebuild (the publisher builds nothing then). Its result is kept against the tally's state (the
units' `seq_sum`, the definition's revision, the baseline's `seq`): a round that finds the race
unchanged reuses it, and the snapshot's version already rises with each of those three, so a
snapshot's model figures are a function of its version like every other figure (design rule 5).

The units are handed to the model sorted by id: its sums are in floating point, and a tally's
units are in arrival order, which a rebuild does not reproduce.

The model is race-wide (every county's estimate moves with the turnout fitted on all of them),
so its figures go on the state snapshot only. A county snapshot's version counts its own units:
a county estimate that moved with another county's report would change under the same version.
The county estimates reach readers in the state snapshot's `counties_outstanding`.

Two alerts come from it, with deterministic ids: `projection_settled`, once per race and baseline,
when the 90% interval of the expected vote narrows below `settled_pct` of the estimate, and
`expected_vote_disagrees`, once per published estimate (`seq`), when the published expected
vote falls outside the model's 95% interval. Both only while some units are still out (once
every unit is in, the model is the count). Which round first sees them depends on the
publishing's pace, like every coalesced snapshot; their ids do not.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from streams.contract import Alert, ExpectedVote, RaceDefinition, TallyKey
from streams.counting.alerts import _Event  # how every alert is made: its deterministic id, its place
from streams.counting.tally import RaceTally
from streams.model.baselines import Baseline
from streams.model.estimate import LEVELS, NoEstimate, Projection, UnitCount, project

NO_BASELINE = "no baseline for this race"
SETTLED_LEVEL, CHECK_LEVEL = 90, 95  # the interval that settles; the one a published estimate is checked against


@dataclass(frozen=True, slots=True)
class ModelRun:
    """What the model said of one tally in one state of it."""

    baseline: Baseline | None
    result: Projection | NoEstimate
    # County FIPS -> the model's votes still out there (from the units it projects): the
    # "where the vote is left" of a race without published county estimates.
    county_out: dict[str, int] = field(default_factory=dict)

    @property
    def projection(self) -> Projection | None:
        return self.result if isinstance(self.result, Projection) else None


NO_BASELINE_RUN = ModelRun(None, NoEstimate(NO_BASELINE))  # one for every race without a baseline


def _ignore(*_: Any) -> None:
    """The default hook: a room without a worker (tests, tools) observes nothing."""


@dataclass
class RaceModels:
    """The model's latest run per tally, and the alerts it has raised. The worker sets the hooks
    (streams.worker.modelling): `observe(key, outcome, seconds, units_used)` after each run, and
    `send_alerts(alerts)`."""

    settled_pct: float = 2.0
    observe: Callable[[TallyKey, str, float, int], None] = _ignore
    send_alerts: Callable[[list[Alert]], None] = _ignore
    runs: dict[TallyKey, tuple[tuple[int, int, int], ModelRun]] = field(default_factory=dict)
    alerted: dict[TallyKey, set[tuple[str, ...]]] = field(default_factory=dict)  # (type, *ident) raised

    def run(self, tally: RaceTally, definition: RaceDefinition, baseline: Baseline | None) -> ModelRun:
        """The model's run for the tally as it stands: kept from the last call when nothing it
        depends on changed."""
        token = (tally.seq_sum, definition.revision, baseline.seq if baseline is not None else -1)
        kept = self.runs.get(tally.key)
        if kept is not None and kept[0] == token:
            return kept[1]
        run = NO_BASELINE_RUN if baseline is None else self._project(tally, definition, baseline)
        self.runs[tally.key] = (token, run)
        return run

    def _project(self, tally: RaceTally, definition: RaceDefinition, baseline: Baseline) -> ModelRun:
        started = time.perf_counter()  # measured, for the metrics; it decides nothing
        counts = [UnitCount(uid, unit.votes, unit.complete) for uid, unit in sorted(tally.units())]
        result = project(counts, {c.candidate_id: c.party for c in definition.candidates}, baseline.units)
        run = ModelRun(baseline, result, county_out(tally, baseline, result))
        outcome = "estimate" if run.projection is not None else "no_estimate"
        self.observe(tally.key, outcome, time.perf_counter() - started, result.units_used)
        return run

    def check(self, tally: RaceTally, definition: RaceDefinition, expected: ExpectedVote | None,
              run: ModelRun) -> None:
        """Raise the model's alerts that became true (each once: `alerted` remembers them)."""
        projection = run.projection
        if projection is None or not projection.units_outstanding or run.baseline is None:
            return
        event = _Event(tally.key, definition, tally.as_of or "", ("baseline", str(run.baseline.seq)))
        alerts = []
        if settled(projection, self.settled_pct) and self._first(event, "projection_settled"):
            alerts.append(settled_alert(event, projection, self.settled_pct))
        published = tally.expected_votes(expected)
        if expected is not None and published is not None and outside(published, projection, CHECK_LEVEL):
            event = event._replace(ident=("expected", str(expected.seq)))
            if self._first(event, "expected_vote_disagrees"):
                alerts.append(disagrees_alert(event, projection, published))
        if alerts:
            self.send_alerts(alerts)

    def _first(self, event: _Event, alert_type: str) -> bool:
        raised = self.alerted.setdefault(event.key, set())
        if (alert_type, *event.ident) in raised:
            return False
        raised.add((alert_type, *event.ident))
        return True

    def forget(self, key: TallyKey) -> None:
        """A tally this worker no longer holds (a rebalance): its runs and alert marks go with it
        (its next owner may say them again, under the same ids)."""
        self.runs.pop(key, None)
        self.alerted.pop(key, None)


def county_out(tally: RaceTally, baseline: Baseline, result: Projection | NoEstimate) -> dict[str, int]:
    """The model's votes still out per county: each outstanding unit's expected total less what it
    has counted, in the unit's county (its reports', else the baseline's; a baseline unit with a
    5-digit id and no county is a county)."""
    if not isinstance(result, Projection):
        return {}
    out: dict[str, int] = {}
    for uid, expected in result.unit_expected.items():
        unit = tally.unit(uid)
        base = baseline.units.get(uid)
        fips = unit.county_fips if unit is not None else (base.county if base is not None else None)
        if fips is None and len(uid) == 5 and uid.isdigit():
            fips = uid
        left = expected - (unit.total_votes if unit is not None else 0)
        if fips is not None and left > 0:
            out[fips] = out.get(fips, 0) + left
    return out


def settled(projection: Projection, settled_pct: float) -> bool:
    low, high = projection.expected_ranges[SETTLED_LEVEL]
    return 100 * (high - low) < settled_pct * projection.expected_votes


def outside(published: int, projection: Projection, level: int) -> bool:
    low, high = projection.expected_ranges[level]
    return not low <= published <= high


def settled_alert(event: _Event, projection: Projection, settled_pct: float) -> Alert:
    low, high = projection.expected_ranges[SETTLED_LEVEL]
    message = (f"The model's expected vote in {event.place} has settled: {projection.expected_votes:,} "
               f"({low:,}–{high:,} at {SETTLED_LEVEL}%), within {settled_pct:g}% of the estimate.")
    return event.alert("projection_settled", "info", message, {**_estimate(projection), "settled_pct": settled_pct})


def disagrees_alert(event: _Event, projection: Projection, published: int) -> Alert:
    low, high = projection.expected_ranges[CHECK_LEVEL]
    message = (f"The published expected vote in {event.place}, {published:,}, is outside the model's "
               f"{CHECK_LEVEL}% interval ({low:,}–{high:,}).")
    return event.alert("expected_vote_disagrees", "warning", message,
                       {**_estimate(projection), "published_expected_votes": published, "level": CHECK_LEVEL})


def _estimate(projection: Projection) -> dict[str, object]:
    return {"model_expected_votes": projection.expected_votes, "model_expected_range": _ranges(
        projection.expected_ranges), "total_votes": projection.counted_votes,
        "model_units_used": projection.units_used}


def _ranges(ranges: dict[int, tuple[int, int]]) -> dict[str, list[int]]:
    return {str(level): [low, high] for level, (low, high) in sorted(ranges.items())}


def model_expected(run: ModelRun | None) -> int | None:
    """The model's expected vote, for the counted figure when none is published."""
    projection = run.projection if run is not None else None
    return projection.expected_votes if projection is not None and projection.expected_votes > 0 else None


def model_fields(run: ModelRun | None) -> dict[str, Any]:
    """The state snapshot's `model_*` fields: null where the model has no estimate."""
    projection = run.projection if run is not None else None
    note = run.result.reason if run is not None and isinstance(run.result, NoEstimate) else None
    baseline = run.baseline if run is not None else None
    fields: dict[str, Any] = {
        "model_expected_votes": None, "model_expected_range": None, "model_votes_remaining": None,
        "model_votes_remaining_range": None, "model_units_used": None, "model_units_outstanding": None,
        "model_units_unmatched": None, "model_note": note,
        "model_baseline_election_id": baseline.baseline_election_id if baseline is not None else None}
    if run is not None and baseline is not None:
        fields["model_units_used"] = run.result.units_used
    if projection is not None:
        fields.update({
            "model_expected_votes": projection.expected_votes,
            "model_expected_range": _ranges(projection.expected_ranges),
            "model_votes_remaining": projection.votes_remaining,
            "model_votes_remaining_range": _ranges({level: projection.remaining_range(level) for level in LEVELS}),
            "model_units_outstanding": projection.units_outstanding,
            "model_units_unmatched": projection.units_unmatched})
    return fields


def projected_share(run: ModelRun | None, candidate_id: str) -> dict[str, Any]:
    """A candidate's `projected_pct` and `projected_pct_range` (one decimal), or nulls."""
    projection = run.projection if run is not None else None
    if projection is None or candidate_id not in projection.shares:
        return {"projected_pct": None, "projected_pct_range": None}
    ranges = projection.share_ranges[candidate_id]
    return {"projected_pct": round(projection.shares[candidate_id], 1),
            "projected_pct_range": {str(level): [round(low, 1), round(high, 1)]
                                    for level, (low, high) in sorted(ranges.items())}}
