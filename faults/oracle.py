"""The oracle: what the output topics say, against what the simulated night really was.

Figures come from the topics, never from the worker's metrics (its counters start again at
every restart). The reference is independent of the worker's code: the simulator's truth
file for the statewide totals, and for each county the sum of its units' highest-`seq`
reports, computed here from the clean recording (before the harness adds its malformed
records, so every report in it is valid).

- votes lost / counted twice: per race, state and candidate, the final state snapshot's
  votes minus the truth's (negative: lost, positive: counted twice); a race with no snapshot
  at all has lost all its votes.
- units with a wrong final seq: a snapshot does not carry its units' seqs, so a county whose
  final snapshot differs from the reference counts all its units (an upper bound).
- version regressions: a snapshot whose version is lower than one published before it under
  the same key (topic order: one key lives in one partition); conflicts: the same version
  with other figures.
- dead letters: distinct sources (`votewire-source` + `votewire-index`) against the injected
  ones; duplicates beyond them are at-least-once re-sends after a crash, reported apart.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from streams.settings import Settings
from tests.integration.harness import TopicRecord, read_topic, run


@dataclass
class Verdict:
    votes_lost: int = 0
    votes_counted_twice: int = 0
    races_missing: int = 0
    units_wrong_seq: int = 0
    counties_wrong: int = 0
    version_regressions: int = 0
    version_conflicts: int = 0
    dead_letters_injected: int = 0
    dead_letters_distinct: int = 0
    dead_letters_resent: int = 0
    state_snapshots: int = 0
    county_snapshots: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not (self.votes_lost or self.votes_counted_twice or self.races_missing or self.units_wrong_seq)

    @property
    def passed(self) -> bool:
        return (self.exact and not self.version_regressions and not self.version_conflicts
                and self.dead_letters_distinct == self.dead_letters_injected)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "exact": self.exact, "passed": self.passed}


@dataclass(frozen=True)
class Reference:
    """What the night must end at: truth per race/state, and per county the units' final votes."""

    races: dict[str, dict[str, int]]  # state-results key -> candidate -> votes
    counties: dict[str, dict[str, int]]  # county-results key -> candidate -> votes
    units_per_county: dict[str, int]
    dead_letters: int

    @classmethod
    def build(cls, truth_file: Path, clean_recording: Path, dead_letters: int) -> Reference:
        truth = orjson.loads(truth_file.read_bytes())
        races = {key: dict(race["votes"]) for key, race in truth["races"].items()}
        finals: dict[tuple[str, ...], tuple[int, str, dict[str, int]]] = {}
        for report in _reports(clean_recording):
            unit = (report["election_id"], report["race_id"], report["state"], report.get("mode", "live"),
                    report["precinct_id"])
            held = finals.get(unit)
            if held is None or report["seq"] > held[0]:
                finals[unit] = (report["seq"], report["county_fips"], report["votes"])
        counties: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        units: dict[str, int] = defaultdict(int)
        for (election, race, state, mode, _), (_, fips, votes) in finals.items():
            key = f"{election}/{race}/{state}/{fips}/{mode}"
            units[key] += 1
            for candidate, n in votes.items():
                counties[key][candidate] += n
        return cls(races, {k: dict(v) for k, v in counties.items()}, dict(units), dead_letters)


def _reports(recording: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for line in recording.read_bytes().splitlines():
        rec = orjson.loads(line)
        if rec["topic"] != "precinct-results":
            continue
        value = rec["value"]
        if value.get("schema") == "state-poll/1":
            shared = {k: value[k] for k in ("election_id", "state") if k in value}
            out.extend({**shared, "race_id": race["race_id"], "mode": value.get("mode", "live"), **r}
                       for race in value["races"] for r in race["reports"])
        elif value.get("schema") == "precinct-batch/1":
            shared = {k: value[k] for k in ("election_id", "race_id", "state") if k in value}
            out.extend({**shared, "mode": value.get("mode", "live"), **r} for r in value["reports"])
        else:
            out.append(value)
    return out


def judge(settings: Settings, reference: Reference) -> Verdict:
    """Read the output topics to their ends and compare them with the reference."""
    states = run(read_topic(settings, "state-results"), 180)
    counties = run(read_topic(settings, "county-results"), 180)
    dead = run(read_topic(settings, "dead-letters"), 60)
    verdict = Verdict(dead_letters_injected=reference.dead_letters, state_snapshots=len(states),
                      county_snapshots=len(counties))
    _compare_states(verdict, _finals(states), reference)
    _compare_counties(verdict, _finals(counties), reference)
    for records in (states, counties):
        regressions, conflicts, examples = version_regressions(records)
        verdict.version_regressions += regressions
        verdict.version_conflicts += conflicts
        verdict.examples.extend(examples[:5])
    sources = {(d.headers.get("votewire-source"), d.headers.get("votewire-index")) for d in dead}
    verdict.dead_letters_distinct = len(sources)
    verdict.dead_letters_resent = len(dead) - len(sources)
    return verdict


def final_outputs_match(settings: Settings, reference: Reference) -> bool:
    """Whether the latest state and county snapshots already equal the reference (polled
    while waiting for the end of a night: counties go out after their states, paced)."""
    verdict = Verdict()
    _compare_states(verdict, _finals(run(read_topic(settings, "state-results"), 120)), reference)
    if verdict.exact:
        _compare_counties(verdict, _finals(run(read_topic(settings, "county-results"), 120)), reference)
    return verdict.exact


def _finals(records: list[TopicRecord]) -> dict[str, dict[str, Any]]:
    """The last snapshot per key in topic order: what a compacted topic keeps, what readers see."""
    return {r.key: r.value for r in records if r.key is not None and isinstance(r.value, dict)}


def _votes(snapshot: dict[str, Any]) -> dict[str, int]:
    return {c["candidate_id"]: c["votes"] for c in snapshot["candidates"]}


def _compare_states(verdict: Verdict, finals: dict[str, dict[str, Any]], reference: Reference) -> None:
    for key, truth in reference.races.items():
        snapshot = finals.get(key)
        if snapshot is None:
            verdict.races_missing += 1
            verdict.votes_lost += sum(truth.values())
            continue
        got = _votes(snapshot)
        for candidate in truth.keys() | got.keys():
            diff = got.get(candidate, 0) - truth.get(candidate, 0)
            if diff < 0:
                verdict.votes_lost -= diff
            else:
                verdict.votes_counted_twice += diff


def _compare_counties(verdict: Verdict, finals: dict[str, dict[str, Any]], reference: Reference) -> None:
    for key, want in reference.counties.items():
        snapshot = finals.get(key)
        got = _votes(snapshot) if snapshot is not None else {}
        if {c: n for c, n in got.items() if n} != {c: n for c, n in want.items() if n}:
            if verdict.counties_wrong < 5:
                verdict.examples.append(
                    f"{key}: {sum(got.values())} votes at version {(snapshot or {}).get('version')}, "
                    f"want {sum(want.values())}")
            verdict.counties_wrong += 1
            verdict.units_wrong_seq += reference.units_per_county[key]


def version_regressions(records: list[TopicRecord]) -> tuple[int, int, list[str]]:
    """(snapshots whose version is below an earlier one of their key, snapshots that repeat an
    earlier version with other votes, a line about each), in topic order."""
    highest: dict[str, tuple[int, Any]] = {}
    regressions = conflicts = 0
    examples: list[str] = []
    for r in records:
        if r.key is None or not isinstance(r.value, dict):
            continue
        version, figures = r.value["version"], (r.value["total_votes"], r.value.get("expected_votes"))
        held = highest.get(r.key)
        if held is not None and version < held[0]:
            regressions += 1
            examples.append(f"{r.key}[{r.partition}]@{r.offset}: version {version} after {held[0]}")
            continue
        if held is not None and version == held[0] and figures != held[1]:
            conflicts += 1
            examples.append(f"{r.key}[{r.partition}]@{r.offset}: version {version} again, other figures")
        highest[r.key] = (version, figures)
    return regressions, conflicts, examples
