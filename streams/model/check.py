"""The model's calibration on a replayed night (`make model-check`, run by
`python -m streams.commands.model_check`).

A race's reports are applied in delivery order (highest `seq` per unit wins, as the worker
does); when the race first reaches 25%, 50% and 75% of its true final vote, the model runs
and is scored against the truth (`RaceReplay`; the simulated nights are replayed through it by
`streams.simulation.model_check`). Minnesota: the bundled recording of the 2024 night with
the 2020 county results as the baseline, scored the same way, and the president's estimate at
every snapshot from polls close until every county is in. Nothing is tuned here, it only measures.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from streams import contract
from streams.contract.messages import parse_precinct_record
from streams.contract.recording import BadLine, RecordingReader
from streams.model.baselines import UnitBaseline
from streams.model.calibration import Score, Truth, score, table
from streams.model.estimate import NoEstimate, Projection, UnitCount, project
from streams.model.sources import Target, from_us_county_president

CHECKPOINTS = (25, 50, 75)
DATA = Path(__file__).resolve().parents[1] / "data"
MN_NIGHT = DATA / "mn-2024-general.jsonl.gz"
MN_BASELINE = DATA / "us-county-president" / "2020-MN.csv"


@dataclass
class RaceReplay:
    """One race/state's units as reports arrive, and the checkpoints it has passed."""

    parties: dict[str, str]
    baseline: Mapping[str, UnitBaseline]
    truth: Truth | None = None
    units: dict[str, tuple[int, UnitCount]] = field(default_factory=dict)
    counted: int = 0
    passed: int = 0  # checkpoints already scored

    def apply(self, report: contract.PrecinctReport) -> None:
        held = self.units.get(report.precinct_id)
        if held is not None and held[0] >= report.seq:
            return  # a duplicate or a stale report, as the worker drops it
        unit = UnitCount(report.precinct_id, dict(report.votes), report.complete)
        self.counted += unit.total - (held[1].total if held else 0)
        self.units[report.precinct_id] = (report.seq, unit)

    def projection(self) -> Projection | NoEstimate:
        return project([u for _, u in self.units.values()], self.parties, self.baseline)

    def due_checkpoints(self) -> Iterator[int]:
        assert self.truth is not None
        total = self.truth.total_votes
        while self.passed < len(CHECKPOINTS) and self.counted >= CHECKPOINTS[self.passed] / 100 * total:
            self.passed += 1
            yield CHECKPOINTS[self.passed - 1]


def apply_record(races: Mapping[str, RaceReplay], value: Mapping[str, Any]) -> list[Score]:
    """A record's reports, race by race (a state's poll carries several), then each race it
    moved scored at the checkpoints it passed."""
    moved: dict[str, RaceReplay] = {}
    for report in parse_precinct_record(value).reports:
        race = moved[report.key] = races[report.key]
        race.apply(report)
    scores = []
    for race in moved.values():
        assert race.truth is not None
        scores += [score(checkpoint, race.projection(), race.truth) for checkpoint in race.due_checkpoints()]
    return scores


# --- the Minnesota night ---------------------------------------------------------------------


def minnesota_night() -> list[tuple[str, dict[str, Any]]]:
    """The bundled night's (topic, value) in order (it has no bad lines and no tombstones)."""
    with RecordingReader(MN_NIGHT) as lines:
        return [(line.topic, orjson.loads(line.value)) for line in lines
                if not isinstance(line, BadLine) and line.value is not None]


@dataclass
class Snapshot:
    at: str
    counted: int
    projection: Projection | NoEstimate


def minnesota(race_id: str) -> tuple[RaceReplay, list[Snapshot], list[Score]]:
    """The race replayed from the bundled night: a snapshot after every record that moved it."""
    baseline = from_us_county_president(MN_BASELINE, Target("2024-11-05", race_id, "MN"))[0]
    race = RaceReplay({}, baseline.units)
    # In the night's order, this race's definitions and its reports of each record that has any
    # (a state's poll carries both races).
    mine = [part for topic, value in minnesota_night() if (part := race_part(topic, value, race_id))]
    for part in mine:  # the truth is the night's last word: replay once to find it
        if isinstance(part, list):
            for report in part:
                race.apply(report)
    race.truth = Truth(race.counted, candidate_votes(race))
    replay = RaceReplay({}, baseline.units, race.truth)
    snapshots, scores = [], []
    for part in mine:
        if not isinstance(part, list):
            replay.parties = {c["candidate_id"]: c["party"] for c in part["candidates"]}
            continue
        reports = part
        for report in reports:
            replay.apply(report)
        projection = replay.projection()
        snapshots.append(Snapshot(max(r.reported_at for r in reports), replay.counted, projection))
        scores += [score(checkpoint, projection, race.truth) for checkpoint in replay.due_checkpoints()]
    return replay, snapshots, scores


def race_part(topic: str, value: dict[str, Any], race_id: str) -> dict[str, Any] | list[contract.PrecinctReport]:
    """What a record of the night says of `race_id`: its definition, its reports, or nothing."""
    if topic == contract.RACE_DEFINITIONS:
        return value if value.get("race_id") == race_id else {}
    if topic == contract.PRECINCT_RESULTS:
        return [r for r in parse_precinct_record(value).reports if r.race_id == race_id]
    return {}


def candidate_votes(race: RaceReplay) -> dict[str, int]:
    votes: dict[str, int] = {}
    for _, unit in race.units.values():
        for candidate, n in unit.votes.items():
            votes[candidate] = votes.get(candidate, 0) + n
    return votes


def readout_line(snapshot: Snapshot, truth: Truth, names: Mapping[str, str]) -> str:
    """`| time | counted | the estimate | truth inside the 90%? |` for one snapshot."""
    p = snapshot.projection
    if isinstance(p, NoEstimate):
        return f"| {snapshot.at} | {snapshot.counted:,} | no estimate: {p.reason} | | |"
    low, high = p.expected_ranges[90]
    pct = 100 * snapshot.counted / p.expected_votes
    parts = [f"about {pct:.0f}% of expected vote counted (est.): {p.expected_votes:,} ({low:,}–{high:,})"]
    parts += [f"{names[c]} {p.shares[c]:.1f}% ({p.share_ranges[c][90][0]:.1f}–{p.share_ranges[c][90][1]:.1f})"
              for c in truth.leaders()]
    shares_inside = all(p.share_ranges[c][90][0] <= truth.share(c) <= p.share_ranges[c][90][1]
                        for c in truth.leaders())
    vote_inside = yes_no(low <= truth.total_votes <= high)
    return f"| {snapshot.at} | {snapshot.counted:,} | {' · '.join(parts)} | {vote_inside} | {yes_no(shares_inside)} |"


def yes_no(flag: bool) -> str:
    return "yes" if flag else "**no**"


def minnesota_report() -> str:
    out, all_scores = [], []
    names = {}
    for topic, value in minnesota_night():
        if topic == contract.RACE_DEFINITIONS:
            names.update({c["candidate_id"]: c.get("short_name") or c["name"] for c in value["candidates"]})
    for race_id in ("president", "senate"):
        replay, snapshots, scores = minnesota(race_id)
        all_scores += scores
        assert replay.truth is not None
        shown = [s for s in snapshots if "2024-11-06T02:00" <= s.at <= "2024-11-06T15:00"]
        out += [f"\n**{race_id}** (final: {replay.truth.total_votes:,} votes; "
                + ", ".join(f"{names[c]} {replay.truth.share(c):.2f}%" for c in replay.truth.leaders()) + ")\n",
                "| reported at (UTC) | counted | the model's estimate, 90% intervals | final vote in its 90%? "
                "| final shares in theirs? |", "|---|---|---|---|---|",
                *(readout_line(s, replay.truth, names) for s in shown)]
    return table(all_scores) + "\n" + "\n".join(out)
