"""Clarity (Scytl) election-night reporting `detail.xml` -> contract records.

Input: one or more `detail.xml` snapshots, oldest first, at county level (a state's file:
units are `County` elements) or precinct level (a county's file: units are `Precinct`s):
`ElectionResult/Contest[key,text,...]/Choice[key,text,party,totalVotes]/VoteType[name]/
(County|Precinct)[name,votes]`.

Decisions:
- **Votes** of a unit are its `votes` summed over the choice's vote types (Election Day, Early
  Vote, Absentee, ...). Contest-level vote types (Undervotes, Overvotes) are not choices and
  are left out.
- **Ids.** Contest and choice `key`s are numbered per file, so two counties' files disagree
  on them; `race_id` and `candidate_id` are the slugged `text` instead (`us-senate`,
  `tom-cotton`). A unit's `precinct_id` is its county FIPS (county level) or
  `{county_fips}-{precinct name}` (precinct level).
- **County FIPS.** `--county-fips-map` (`name,fips` CSV), else the Census convention (odd
  codes in alphabetical order) over the county names the file lists. A precinct-level file
  covers one county, given by `--county`.
- **State** from `Region` when it is a state code, else `--state`. **Election id** from
  `ElectionDate`. **Time**: the file's `Timestamp` (`11/13/2014 2:58:41 PM CST`), for every
  unit; `polls_close` is `--polls-close`, else the first snapshot's time.
- **Polls.** The changed units of every contest in one snapshot go out as one `state-poll/1`
  (split if over 1 MiB).
- **Precincts.** A county unit carries its `ParticipatingCounties` figures; a precinct is
  `complete` when its contest reports all precincts reported.
A missing or malformed attribute is a `SourceError` naming the file and the element
(`Contest[key=100]/Choice[key=001]/VoteType[name=Absentee]/County[3]`); that unit is left out
of that contest and reported (`--strict` raises), everything else is kept.
"""

from __future__ import annotations

import argparse
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from streams import contract
from streams.adapters.base import ErrorSink, UnitTracker, error_sink, precinct_records, read_fips_map, rfc3339_ms, slug
from streams.contract.recording import OutRecord
from streams.errors import SourceError
from streams.geo.geography import STATE_FIPS, county_fips_by_order

ZONES = {"EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
         "AKST": -9, "AKDT": -8, "HST": -10, "UTC": 0, "GMT": 0}
UNIT_TAGS = ("County", "Precinct")


def clarity_time(text: str) -> str:
    """`11/13/2014 2:58:41 PM CST` -> `2014-11-13T20:58:41Z`."""
    stamp, _, zone = text.strip().rpartition(" ")
    if zone not in ZONES:
        raise ValueError(f"time zone {zone!r} of {text!r} is not one of {sorted(ZONES)}")
    local = datetime.strptime(stamp, "%m/%d/%Y %I:%M:%S %p").replace(tzinfo=timezone(timedelta(hours=ZONES[zone])))
    return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ElementError(ValueError):
    """A malformed element: `where` is its path in the file."""

    def __init__(self, where: str, reason: str) -> None:
        self.where, self.reason = where, reason
        super().__init__(f"{where}: {reason}")


def attr(element: ET.Element, name: str, where: str) -> str:
    value = element.get(name)
    if value is None or not value.strip():
        raise ElementError(where, f"no {name!r} attribute")
    return value.strip()


def count_attr(element: ET.Element, name: str, where: str) -> int:
    value = attr(element, name, where)
    if not value.isdigit():
        raise ElementError(where, f"{name} is {value!r}, not a whole number >= 0")
    return int(value)


@dataclass
class Contest:
    """One contest of one snapshot: candidates, unit votes, and the units that were malformed."""

    race_id: str
    office: str
    precincts_total: int
    all_reported: bool
    candidates: list[dict[str, str]] = field(default_factory=list)
    votes: dict[str, Counter[str]] = field(default_factory=dict)  # unit name -> candidate -> votes
    bad_units: set[str] = field(default_factory=set)
    county_precincts: dict[str, tuple[int, int]] = field(default_factory=dict)  # reported, total


def contest_header(element: ET.Element, where: str) -> Contest:
    text = attr(element, "text", where)
    total = element.get("precinctsParticipating") or element.get("precinctsReporting") or "0"
    reported = element.get("precinctsReported") or "0"
    contest = Contest(slug(text), text, int(total) if total.isdigit() else 0,
                      reported.isdigit() and int(reported) >= int(total) if total.isdigit() else False)
    for county in element.iterfind("ParticipatingCounties/County"):
        name, got, of = county.get("name"), county.get("precinctsReported"), county.get("precinctsParticipating")
        if name and got and of and got.isdigit() and of.isdigit():
            contest.county_precincts[name] = (int(got), int(of))
    return contest


def add_choice(contest: Contest, choice: ET.Element, where: str, source: str, on_error: ErrorSink) -> None:
    cid = slug(attr(choice, "text", where))
    contest.candidates.append({"candidate_id": cid, "name": attr(choice, "text", where),
                               "party": (choice.get("party") or "").strip()})
    for vt in choice.iterfind("VoteType"):
        vt_where = f"{where}/VoteType[name={vt.get('name')}]"
        for i, unit in enumerate(u for u in vt if u.tag in UNIT_TAGS):
            unit_where = f"{vt_where}/{unit.tag}[{i + 1}]"
            try:
                name, votes = attr(unit, "name", unit_where), count_attr(unit, "votes", unit_where)
            except ElementError as e:
                on_error(SourceError(source, e.where, e.reason))
                contest.bad_units.add(unit.get("name") or f"#{i + 1}")
                continue
            contest.votes.setdefault(name, Counter())[cid] += votes


def parse_contest(element: ET.Element, source: str, on_error: ErrorSink) -> Contest:
    where = f"Contest[key={element.get('key')}]"
    contest = contest_header(element, where)
    for choice in element.iterfind("Choice"):
        add_choice(contest, choice, f"{where}/Choice[key={choice.get('key')}]", source, on_error)
    return contest


@dataclass(frozen=True)
class Snapshot:
    election_id: str
    state: str
    reported_at: str
    counties: list[str]  # county names the file lists (for the FIPS convention)
    contests: list[Contest]
    precinct_level: bool


def parse_snapshot(path: Path, args: argparse.Namespace, on_error: ErrorSink) -> Snapshot:
    source = str(path)
    try:
        # Clarity files are published by election offices; expat (3.7.1+) resolves no external
        # entities and caps entity expansion, so the stdlib parser is safe enough here.
        root = ET.parse(path).getroot()  # noqa: S314
    except ET.ParseError as e:
        raise SourceError(source, f"line {e.position[0]}", f"not well-formed XML ({e})") from None
    try:
        region = (root.findtext("Region") or "").strip()
        state = args.state or (region if region in STATE_FIPS else None)
        if not state:
            raise ElementError("Region", f"{region!r} is not a state code: pass --state")
        date = datetime.strptime((root.findtext("ElectionDate") or "").strip(), "%m/%d/%Y")
        reported_at = clarity_time(root.findtext("Timestamp") or "")
    except ValueError as e:
        where = e.where if isinstance(e, ElementError) else "ElectionDate/Timestamp"
        raise SourceError(source, where, str(e)) from None
    counties = [c.get("name") or "" for c in root.iterfind(".//Counties/County")]
    contests = []
    for element in root.iterfind("Contest"):
        try:
            contests.append(parse_contest(element, source, on_error))
        except ElementError as e:
            on_error(SourceError(source, e.where, e.reason))
    precinct_level = root.find("Contest/Choice/VoteType/Precinct") is not None
    if precinct_level and not args.county:
        raise SourceError(source, "Contest/Choice/VoteType/Precinct",
                          "a precinct-level file: pass --county FIPS, the county it covers")
    return Snapshot(args.election_id or date.strftime("%Y-%m-%d"), state, reported_at, counties, contests,
                    precinct_level)


@dataclass
class ClarityMapper:
    """Maps successive snapshots to records; remembers what it already emitted."""

    args: argparse.Namespace
    tracker: UnitTracker = field(default_factory=UnitTracker)
    _definitions: dict[str, Any] = field(default_factory=dict)
    _polls_close: str | None = None

    def fips_of(self, snap: Snapshot, unit_names: set[str], source: str) -> dict[str, str]:
        if snap.precinct_level:
            return {}  # one county for all its precincts: --county
        if self.args.county_fips_map:
            fips = read_fips_map(self.args.county_fips_map)
        else:
            fips = county_fips_by_order(snap.state, snap.counties or sorted(unit_names))
        missing = sorted(unit_names - set(fips))
        if missing:
            raise SourceError(source, "County", f"no FIPS code for {missing}: pass --county-fips-map")
        return fips

    def snapshot_records(self, snap: Snapshot, source: str) -> Iterator[OutRecord]:
        ts = rfc3339_ms(snap.reported_at, "Timestamp")
        self._polls_close = self._polls_close or self.args.polls_close or snap.reported_at
        changed: list[dict[str, Any]] = []  # every contest's: the snapshot is one poll of the state
        for contest in snap.contests:
            key = contract.race_key(snap.election_id, contest.race_id, snap.state)
            fips = self.fips_of(snap, set(contest.votes), source)
            units = [(n, v) for n, v in contest.votes.items() if n not in contest.bad_units]
            definition = {"schema": "race-definition/1", "election_id": snap.election_id,
                          "race_id": contest.race_id, "state": snap.state, "office": contest.office,
                          "candidates": contest.candidates,
                          "precincts_total": contest.precincts_total or len(contest.votes),
                          "polls_close": self._polls_close, "certified": False}
            if self._definitions.get(key) != definition:
                self._definitions[key] = definition
                yield OutRecord(ts, contract.RACE_DEFINITIONS, key, definition)
            for name, votes in units:
                value = self.unit_value(snap, contest, name, votes, fips)
                seq = self.tracker.next_seq(f"{key}/{value['precinct_id']}", votes)
                if seq is not None:
                    changed.append({**value, "seq": seq})
        yield from precinct_records(ts, changed)

    def unit_value(self, snap: Snapshot, contest: Contest, name: str, votes: Counter[str],
                   fips: dict[str, str]) -> dict[str, Any]:
        value: dict[str, Any] = {
            "schema": "precinct-result/1", "election_id": snap.election_id, "race_id": contest.race_id,
            "state": snap.state, "reported_at": snap.reported_at, "votes": dict(votes), "mode": "live"}
        if snap.precinct_level:
            return {**value, "county_fips": self.args.county, "precinct_id": f"{self.args.county}-{name}",
                    "complete": contest.all_reported}
        reported, total = contest.county_precincts.get(name, (0, 0))
        value.update(county_fips=fips[name], precinct_id=fips[name], complete=total > 0 and reported >= total)
        if total:
            value.update(precincts_reporting=reported, precincts_total=total)
        return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", type=Path, nargs="+", metavar="XML",
                        help="Clarity detail.xml snapshots (county or precinct level), oldest first")
    parser.add_argument("--state", help="USPS state code (default: the file's Region, when it is one)")
    parser.add_argument("--county", metavar="FIPS",
                        help="the county a precinct-level file covers (5-digit FIPS, e.g. 21089 for Greenup, KY)")
    parser.add_argument("--county-fips-map", type=Path, metavar="CSV",
                        help="county name,FIPS map for a county-level file "
                             "(default: odd codes in alphabetical order, the Census convention)")
    parser.add_argument("--election-id", help="election id (default: the file's ElectionDate, 2014-11-04)")
    parser.add_argument("--polls-close", metavar="RFC3339",
                        help="poll closing time (default: the first snapshot's time)")
    parser.add_argument("--strict", action="store_true",
                        help="stop at the first malformed element (default: report it on stderr, go on)")


def records(args: argparse.Namespace, on_error: ErrorSink | None = None) -> Iterator[OutRecord]:
    on_error = on_error or error_sink(args.strict, "clarity")
    mapper = ClarityMapper(args)
    for path in args.files:
        try:
            snap = parse_snapshot(path, args, on_error)
        except SourceError as e:
            on_error(e)
            continue
        yield from mapper.snapshot_records(snap, str(path))
