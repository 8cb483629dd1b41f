"""OpenElections CSVs (final results by precinct or by county) -> contract records.

Input: `{date}__{state}__{type}__{level}.csv`, e.g. `20161108__de__general__precinct.csv`, with
columns `county, [precinct|election_district,] office, district, party, candidate, votes`.
Election id and state come from the file name unless given.

Decisions:
- **`Total` rows are not precincts.** Some files mix county or race totals in with the
  precincts (`election_district` = `Total`); summing them too doubles every figure. They are
  left out, and how many were left out is reported on stderr.
- **Races:** `race_id` is the office, slugged, plus the district when there is one
  (`president`, `state-senate-5`). Candidates are the race's own rows, `candidate_id` the slug
  of the name. Parties are normalised to short codes (`DEMOCRATIC` -> `DEM`), so that a 2016
  precinct file and a 2020 county file can be compared for swing.
- **Units:** a precinct file's unit is `{county_fips}-{precinct}`; a county file's unit is the
  county (`precinct_id` = its FIPS). Rows of one candidate in one unit add up (some files split
  a unit's votes by vote type). County FIPS by `--county-fips` (a `name,fips` CSV), else by
  the Census convention (odd codes in alphabetical order) over the county names in the file.
- **Polls.** Every race's units in one file go out as one `state-poll/1` (split if over
  1 MiB: a big state's precincts are).
- **Time:** final results carry none. Every record is at `--at` (default the end of election
  day, UTC), which is also `polls_close`; results are `complete` and races `certified`.
- A malformed row is a `SourceError` naming file and line: reported and skipped (`--strict`
  raises), the rows around it kept.
`previous_shares(path, office)` builds a race definition's `previous` from a county or state
file (e.g. Delaware 2020 by county, for swing).
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams import contract
from streams.adapters.base import ErrorSink, UnitTracker, error_sink, precinct_records, read_fips_map, rfc3339_ms, slug
from streams.contract.recording import OutRecord
from streams.errors import SourceError
from streams.geo.geography import STATE_FIPS, county_fips_by_order

FILE_NAME = re.compile(r"^(\d{4})(\d{2})(\d{2})__([a-z]{2})__")
PRECINCT_COLUMNS = ("precinct", "election_district")
TOTAL_MARKERS = {"total", "totals"}
PARTY_CODES = {"DEMOCRATIC": "DEM", "DEMOCRAT": "DEM", "D": "DEM", "REPUBLICAN": "REP", "R": "REP",
               "LIBERTARIAN": "LIB", "LIBERTARIN": "LIB", "L": "LIB", "GREEN": "GRN", "GRE": "GRN",
               "G": "GRN", "INDEPENDENT": "IND", "I": "IND"}



def party_code(party: str) -> str:
    return PARTY_CODES.get(party.strip().upper(), party.strip())


@dataclass(frozen=True, slots=True)
class Row:
    line_no: int
    county: str
    precinct: str | None  # None in a county file
    race_id: str
    office: str
    party: str
    candidate: str
    votes: int


def parse_row(line_no: int, row: dict[str, str | None], precinct_column: str | None) -> Row:
    def text(name: str) -> str:
        value = row.get(name)
        if value is None:
            raise ValueError(f"no {name!r} field (short row)")
        return value.strip()

    votes = text("votes").replace(",", "")
    if not votes.isdigit():
        raise ValueError(f"votes is {votes!r}, not a whole number >= 0")
    office, district = text("office"), text("district") if "district" in row else ""
    if not office or not text("candidate") or not text("county"):
        raise ValueError("empty county, office or candidate")
    race_id = slug(office) + (f"-{slug(district)}" if district else "")
    precinct = text(precinct_column) if precinct_column else None
    return Row(line_no, text("county"), precinct, race_id, office, party_code(text("party")),
               text("candidate"), int(votes))


def read_rows(path: Path, on_error: ErrorSink) -> tuple[list[Row], int]:
    """The file's good rows, and how many `Total` rows were left out."""
    rows, totals = [], 0
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = set(reader.fieldnames or ())
        missing = {"county", "office", "party", "candidate", "votes"} - columns
        if missing:
            raise SourceError(str(path), "line 1", f"no column(s) {sorted(missing)} in the header")
        precinct_column = next((c for c in PRECINCT_COLUMNS if c in columns), None)
        for row in reader:
            if precinct_column and (row.get(precinct_column) or "").strip().lower() in TOTAL_MARKERS:
                totals += 1
                continue
            try:
                rows.append(parse_row(reader.line_num, row, precinct_column))
            except ValueError as e:
                on_error(SourceError(str(path), f"line {reader.line_num}", str(e)))
    return rows, totals


def file_identity(path: Path) -> tuple[str | None, str | None]:
    """(election id, state) from an OpenElections file name, when it follows the convention."""
    match = FILE_NAME.match(path.name)
    if not match:
        return None, None
    year, month, day, state = match.groups()
    return f"{year}-{month}-{day}", state.upper()


def previous_shares(path: Path, race_id: str, on_error: ErrorSink | None = None) -> dict[str, Any]:
    """`{election_id, shares: {party: percent}}` for one race (`president`, `state-senate-5`),
    from a county or state CSV."""
    rows, _ = read_rows(path, on_error or error_sink(True, "openelections"))
    votes: Counter[str] = Counter()
    for row in rows:
        if row.race_id == race_id:
            votes[row.party] += row.votes
    total = sum(votes.values())
    if not total:
        raise SourceError(str(path), "office", f"no votes for race {race_id!r}")
    election_id, _ = file_identity(path)
    return {"election_id": election_id or path.stem,
            "shares": {party: round(100 * n / total, 2) for party, n in votes.most_common()}}


@dataclass
class RaceBuilder:
    """One race in one file: its candidates (in file order) and its units' votes."""

    office: str
    candidates: dict[str, dict[str, str]] = field(default_factory=dict)
    units: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)  # (fips, precinct id)

    def add(self, row: Row, fips: str) -> None:
        cid = slug(row.candidate)
        self.candidates.setdefault(cid, {"candidate_id": cid, "name": row.candidate, "party": row.party})
        unit_id = f"{fips}-{row.precinct}" if row.precinct is not None else fips
        self.units.setdefault((fips, unit_id), Counter())[cid] += row.votes


@dataclass(frozen=True)
class FileContext:
    path: Path
    election_id: str
    state: str
    at: str
    previous: tuple[Path, ...]


def build_races(rows: list[Row], fips_of: dict[str, str]) -> dict[str, RaceBuilder]:
    races: dict[str, RaceBuilder] = {}
    for row in rows:
        races.setdefault(row.race_id, RaceBuilder(row.office)).add(row, fips_of[row.county])
    return races


def race_definition(ctx: FileContext, race_id: str, race: RaceBuilder) -> dict[str, Any]:
    value = {"schema": "race-definition/1", "election_id": ctx.election_id, "race_id": race_id,
             "state": ctx.state, "office": race.office, "candidates": list(race.candidates.values()),
             "precincts_total": len(race.units), "polls_close": ctx.at, "certified": True}
    previous = []
    for path in ctx.previous:
        try:
            previous.append(previous_shares(path, race_id))
        except SourceError:
            continue  # that file has no such race: no swing for this one
    if previous:
        value["previous"] = previous
    return value


def file_records(ctx: FileContext, rows: list[Row], fips_of: dict[str, str],
                 tracker: UnitTracker) -> Iterator[OutRecord]:
    at_ms = rfc3339_ms(ctx.at, "--at")
    changed: list[dict[str, Any]] = []  # every race's: the file is one poll of the state
    for race_id, race in build_races(rows, fips_of).items():
        key = contract.race_key(ctx.election_id, race_id, ctx.state)
        yield OutRecord(at_ms, contract.RACE_DEFINITIONS, key, race_definition(ctx, race_id, race))
        for (fips, unit_id), votes in race.units.items():
            seq = tracker.next_seq(f"{key}/{unit_id}", votes)
            if seq is not None:
                changed.append({
                    "schema": "precinct-result/1", "election_id": ctx.election_id, "race_id": race_id,
                    "state": ctx.state, "county_fips": fips, "precinct_id": unit_id, "seq": seq,
                    "reported_at": ctx.at, "votes": dict(votes), "complete": True, "mode": "live"})
    yield from precinct_records(at_ms, changed)



def context_for(path: Path, args: argparse.Namespace) -> FileContext:
    election_id, state = file_identity(path)
    election_id, state = args.election_id or election_id, args.state or state
    if not election_id or not state or state not in STATE_FIPS:
        raise SourceError(str(path), "file name", "cannot tell election and state: pass --election-id and --state")
    return FileContext(path, election_id, state, args.at or f"{election_id}T23:59:59Z", tuple(args.previous))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", type=Path, nargs="+", metavar="CSV",
                        help="OpenElections CSVs ({date}__{state}__{type}__{level}.csv), oldest first")
    parser.add_argument("--election-id", help="election id (default: the date in the file name, 2016-11-08)")
    parser.add_argument("--state", help="USPS state code (default: from the file name)")
    parser.add_argument("--at", metavar="RFC3339", help="source time of these final results "
                        "(default: the end of election day, UTC); also each race's polls_close")
    parser.add_argument("--county-fips", type=Path, metavar="CSV",
                        help="county name,FIPS map (default: odd codes in alphabetical order, the Census convention)")
    parser.add_argument("--previous", type=Path, action="append", default=[], metavar="CSV",
                        help="an earlier county or state CSV: its party shares become each race's "
                             "`previous` (for swing); repeatable")
    parser.add_argument("--strict", action="store_true",
                        help="stop at the first malformed row (default: report it on stderr, go on)")


def records(args: argparse.Namespace, on_error: ErrorSink | None = None) -> Iterator[OutRecord]:
    on_error = on_error or error_sink(args.strict, "openelections")
    tracker = UnitTracker()
    fips_map = read_fips_map(args.county_fips) if args.county_fips else None
    for path in args.files:
        ctx = context_for(path, args)
        rows, totals = read_rows(path, on_error)
        if totals:
            print(f"votewire ingest openelections: {path}: left out {totals} 'Total' rows "
                  "(county or race totals mixed in with the precincts; summing them would double the votes)",
                  file=sys.stderr)
        fips_of = fips_map or county_fips_by_order(ctx.state, [r.county for r in rows])
        unknown = sorted({r.county for r in rows} - set(fips_of))
        if unknown:
            raise SourceError(str(path), "county", f"no FIPS code for {unknown} in {args.county_fips}")
        yield from file_records(ctx, rows, fips_of, tracker)
