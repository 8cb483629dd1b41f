"""`make model-check`: the model's calibration on simulated nights and on the real Minnesota night.

    .venv/bin/python -m streams.model.check --seeds 20          # what the README shows

Simulated: nights of the `small` preset made in process with their baselines
(`votewire simulate --baseline`), each race's reports applied in delivery order (highest `seq`
per unit wins, as the worker does); when a race first reaches 25%, 50% and 75% of its true
final vote, the model runs and is scored against the truth. Minnesota: the bundled recording
of the 2024 night with the 2020 county results as the baseline, scored the same way, and the
president's estimate at every snapshot from polls close until every county is in. Prints
Markdown; nothing is tuned here, it only measures.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from streams import contract
from streams.model.baselines import UnitBaseline, parse_baseline
from streams.model.calibration import Score, Truth, score, table
from streams.model.estimate import NoEstimate, Projection, UnitCount, project
from streams.model.sources import Target, from_us_county_president
from streams.recording import BadLine, read_recording
from streams.simulation.night import NightOutput, Options, simulate_state

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


def reports_of(value: Mapping[str, Any]) -> list[contract.PrecinctReport]:
    if value.get("schema") == contract.PRECINCT_BATCH_SCHEMA:
        return contract.parse_precinct_batch(value).reports
    return [contract.parse_precinct_report(value)]


# --- simulated nights ------------------------------------------------------------------------


def simulated_scores(seeds: Iterable[int], preset: str) -> list[Score]:
    from streams.simulate import PRESETS, ballot, layout

    day_ms = int(datetime(2024, 11, 5, tzinfo=UTC).timestamp() * 1000)
    scores: list[Score] = []
    for seed in seeds:
        for state, counties, precincts in layout(PRESETS[preset]):
            races = ballot(PRESETS[preset], state, counties, precincts, {})
            night = simulate_state(seed, Options(baseline=True), state, races, counties, precincts, day_ms)
            scores += night_scores(night)
        print(f"model-check: seed {seed} done", file=sys.stderr)
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


def apply_record(races: Mapping[str, RaceReplay], value: Mapping[str, Any]) -> list[Score]:
    reports = reports_of(value)
    race = races[reports[0].key]
    for report in reports:
        race.apply(report)
    assert race.truth is not None
    return [score(checkpoint, race.projection(), race.truth) for checkpoint in race.due_checkpoints()]


# --- the Minnesota night ---------------------------------------------------------------------


@dataclass
class Snapshot:
    at: str
    counted: int
    projection: Projection | NoEstimate


def minnesota(race_id: str) -> tuple[RaceReplay, list[Snapshot], list[Score]]:
    """The race replayed from the bundled night: a snapshot after every record that moved it."""
    baseline = from_us_county_president(MN_BASELINE, Target("2024-11-05", race_id, "MN"))[0]
    race = RaceReplay({}, baseline.units)
    records = [orjson.loads(line.value) for line in read_recording(MN_NIGHT)
               if not isinstance(line, BadLine) and line.value is not None and line.topic != contract.EXPECTED_VOTES]
    mine = [r for r in records if r.get("race_id") == race_id]
    for value in mine:  # the truth is the night's last word: replay once to find it
        if value["schema"] != contract.RACE_DEFINITION_SCHEMA:
            for report in reports_of(value):
                race.apply(report)
    race.truth = Truth(race.counted, candidate_votes(race))
    replay = RaceReplay({}, baseline.units, race.truth)
    snapshots, scores = [], []
    for value in mine:
        if value["schema"] == contract.RACE_DEFINITION_SCHEMA:
            replay.parties = {c["candidate_id"]: c["party"] for c in value["candidates"]}
            continue
        for report in reports_of(value):
            replay.apply(report)
        projection = replay.projection()
        snapshots.append(Snapshot(max(r.reported_at for r in reports_of(value)), replay.counted, projection))
        scores += [score(checkpoint, projection, race.truth) for checkpoint in replay.due_checkpoints()]
    return replay, snapshots, scores


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
    for line in read_recording(MN_NIGHT):
        if not isinstance(line, BadLine) and line.topic == contract.RACE_DEFINITIONS and line.value:
            names.update({c["candidate_id"]: c.get("short_name") or c["name"]
                          for c in orjson.loads(line.value)["candidates"]})
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.model.check", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="simulated nights (seeds 1..N; default 20)")
    parser.add_argument("--preset", default="small", help="simulator preset (default small)")
    parser.add_argument("--only", choices=("simulated", "minnesota"), help="one part only")
    args = parser.parse_args(argv)
    if args.only != "minnesota":
        print(f"### Simulated nights: `{args.preset}` preset, seeds 1–{args.seeds}, every race/state\n")
        print(table(simulated_scores(range(1, args.seeds + 1), args.preset)))
    if args.only != "simulated":
        print("\n### Minnesota 2024, county by county, baseline the 2020 presidential result\n")
        print(minnesota_report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
