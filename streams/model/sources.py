"""Baselines built from files: a prior night's recording, an OpenElections CSV, county results.

Every loader returns `Baseline`s (one per state of the race) for an election being counted now
(`election_id`, `race_id`); the figures' own election is the baseline's `baseline_election_id`.

- **A recording** (`votewire record`, `votewire ingest`, the bundled Minnesota night): its final
  figures per unit. `county-result/1` snapshots when it has them (the latest version of each
  county's), else the latest report (highest `seq`) of each unit in `precinct-results`, with the
  candidates' parties from `race-definitions`. Live mode only.
- **An OpenElections CSV**: read by the `ingest openelections` adapter, then as a recording
  (`streams.adapters.baselines`, which also picks the loader for a kind of file).
- **us-county-president** (the 2016/2020/2024 county files): `votes_dem`, `votes_gop` and
  `total_votes` per county, so parties `DEM` and `REP` and the rest in the total.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from streams import contract
from streams.contract.messages import parse_precinct_record, parse_race_definition
from streams.contract.recording import BadLine, RecordingReader
from streams.errors import InvalidRecord, SourceError
from streams.geo.geography import STATES
from streams.model.baselines import Baseline, UnitBaseline, party_code

# us-county-president's files are named by year; the election each one is.
ELECTION_DAYS = {"2016": "2016-11-08", "2020": "2020-11-03", "2024": "2024-11-05"}
POSTAL_BY_FIPS = {s.fips: s.postal for s in STATES}


@dataclass(frozen=True)
class Target:
    """Which baselines to build: for `race_id` of `election_id`, in `state` (None: every state)."""

    election_id: str
    race_id: str
    state: str | None = None
    issued_at: str = ""
    seq: int = 0

    def wants(self, state: str) -> bool:
        return self.state is None or self.state == state

    def baseline(self, state: str, previous_election: str, units: dict[str, UnitBaseline], source: str) -> Baseline:
        issued_at = self.issued_at or f"{self.election_id}T00:00:00Z"
        return Baseline(self.election_id, self.race_id, state, previous_election, units, self.seq, issued_at, source)


# --- us-county-president -------------------------------------------------------------------


def from_us_county_president(path: Path, target: Target, previous_election: str | None = None) -> list[Baseline]:
    """One baseline per state in the file (or the one `target.state`)."""
    previous_election = previous_election or ELECTION_DAYS.get(path.stem[:4])
    if previous_election is None:
        raise SourceError(str(path), "name", "the file name is not a year (2016, 2020, 2024): "
                                             "say which election it is with --baseline-election-id")
    states: dict[str, dict[str, UnitBaseline]] = {}
    for fips, unit in county_rows(path):
        state = POSTAL_BY_FIPS.get(fips[:2])
        if state is None:
            raise SourceError(str(path), fips, f"county FIPS {fips!r} names no state")
        if target.wants(state):
            states.setdefault(state, {})[fips] = unit
    return [target.baseline(state, previous_election, units, f"us-county-president {path.name}")
            for state, units in sorted(states.items())]


def county_rows(path: Path) -> Iterator[tuple[str, UnitBaseline]]:
    """(FIPS, baseline) per row; the 2016 file names its columns differently."""
    with path.open(encoding="utf-8", newline="") as f:
        for line_no, row in enumerate(csv.DictReader(f), start=2):
            try:
                fips = (row.get("county_fips") or row.get("combined_fips") or "").strip().zfill(5)
                dem, rep, total = (round(float(row[name])) for name in ("votes_dem", "votes_gop", "total_votes"))
            except (KeyError, TypeError, ValueError) as e:
                raise SourceError(str(path), f"line {line_no}", f"not a county result row ({e})") from e
            if min(dem, rep) < 0 or dem + rep > total:
                raise SourceError(str(path), f"line {line_no}", f"votes {dem} + {rep} do not fit in the total {total}")
            yield fips, UnitBaseline(total, {"DEM": dem, "REP": rep})


# --- recordings and OpenElections ------------------------------------------------------------


@dataclass
class FinalFigures:
    """A race's last word per unit, as a recording has it."""

    election_id: str
    state: str
    parties: dict[str, str] = field(default_factory=dict)  # candidate -> party
    reports: dict[str, tuple[int, dict[str, int]]] = field(default_factory=dict)  # unit -> (seq, votes)
    counties: dict[str, tuple[int, dict[str, int]]] = field(default_factory=dict)  # fips -> (version, party votes)

    def units(self) -> dict[str, UnitBaseline]:
        if self.counties:
            return {fips: unit_of(votes) for fips, (_, votes) in self.counties.items()}
        return {unit: unit_of(by_party(votes, self.parties)) for unit, (_, votes) in self.reports.items()}


def unit_of(party_votes: Mapping[str, int]) -> UnitBaseline:
    merged: dict[str, int] = {}
    for party, votes in party_votes.items():
        merged[party_code(party)] = merged.get(party_code(party), 0) + votes
    return UnitBaseline(sum(party_votes.values()), merged)


def by_party(votes: Mapping[str, int], parties: Mapping[str, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for candidate, n in votes.items():
        party = parties.get(candidate, "")  # a candidate the definition lacks: in the total only
        out[party] = out.get(party, 0) + n
    return out


class FinalFiguresReader:
    """Takes a recording's records one by one; keeps each race's final figures."""

    def __init__(self, race_id: str) -> None:
        self.race_id = race_id
        self.races: dict[str, FinalFigures] = {}

    def race(self, election_id: str, state: str) -> FinalFigures:
        return self.races.setdefault(state, FinalFigures(election_id, state))

    def take(self, topic: str, value: Mapping[str, Any]) -> None:
        if value.get("mode", "live") != "live":
            return
        if topic == contract.PRECINCT_RESULTS:  # a state's poll names its races inside
            self.take_reports(value)
        elif value.get("race_id") != self.race_id:
            return
        elif topic == contract.RACE_DEFINITIONS:
            definition = parse_race_definition(value)
            self.race(definition.election_id, definition.state).parties = {
                c.candidate_id: c.party for c in definition.candidates}
        elif topic == contract.COUNTY_RESULTS and value.get("schema") == "county-result/1":
            self.take_county(value)

    def take_reports(self, value: Mapping[str, Any]) -> None:
        for report in parse_precinct_record(value).reports:
            if report.race_id == self.race_id and report.mode == "live":
                held = self.race(report.election_id, report.state).reports
                if report.precinct_id not in held or held[report.precinct_id][0] < report.seq:
                    held[report.precinct_id] = (report.seq, report.votes)

    def take_county(self, value: Mapping[str, Any]) -> None:
        held = self.race(str(value["election_id"]), str(value["state"])).counties
        version, fips = int(value["version"]), str(value["county_fips"])
        if fips not in held or held[fips][0] < version:
            held[fips] = (version, by_party({c["candidate_id"]: c["votes"] for c in value["candidates"]},
                                            {c["candidate_id"]: c["party"] for c in value["candidates"]}))

    def baselines(self, target: Target, source: str) -> list[Baseline]:
        return [target.baseline(state, race.election_id, race.units(), source)
                for state, race in sorted(self.races.items()) if target.wants(state) and race.units()]


def from_recording(path: Path, target: Target) -> list[Baseline]:
    figures = FinalFiguresReader(target.race_id)
    with RecordingReader(path) as lines:
        for line in lines:
            if isinstance(line, BadLine) or line.value is None:
                continue  # `votewire replay` says which lines are bad; a baseline needs the good ones
            try:
                figures.take(line.topic, orjson.loads(line.value))
            except (InvalidRecord, KeyError, TypeError, ValueError) as e:
                raise SourceError(str(path), f"line {line.line_no}", f"not a record of the contract ({e})") from e
    return figures.baselines(target, f"recording {path.name}")
