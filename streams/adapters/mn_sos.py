"""Minnesota Secretary of State election-night media files -> contract records.

Source: the SoS "media files", fetched every 10 minutes on election night and after, laid out
one folder per media file (`USPres.txt/`, `USPresCty.txt/`, ...) with one snapshot per fetch
named by its UTC fetch time (`20241106T033001Z.txt`). Each snapshot is semicolon-separated,
no header, 16 fields: `State;CountyID;PrecinctID;OfficeID;OfficeName;District;CandID;Name;
Suffix;Incumb;Party;PctsReporting;PctsTotal;Votes;Pct;TotalVotesForOffice`.

What this adapter emits, in source-time order:
- a race definition per race (president, U.S. senate), then a revised one with
  `certified: true` just before the final snapshot;
- an expected vote per race. The media files carry NO official estimate of the expected vote,
  so we use the certified final: the office's total votes in the last snapshot statewide, and
  each county's total in the last county file. That is hindsight, fine for replaying a past
  night, and it means percent counted is exact at the end and the count may briefly exceed the
  "expected" vote before later corrections bring it back down (it does, on Nov 6).
- per snapshot time, only the counties whose report changed, every race of them in one
  `state-poll/1` (the fetch is what the feed delivered together). The county is the reporting unit:
  that night's precinct files were never updated, so `precinct_id` is the county FIPS.

Counts are emitted as the source has them, including real downward corrections (the
statewide president total falls from 3,254,709 at 17:10 UTC to 3,249,987 at 23:10 UTC Nov 6).
A malformed line is reported as a `SourceError` naming file and line and skipped; the good
lines around it are kept.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streams import contract
from streams.adapters.base import ErrorSink, UnitTracker, error_sink, precinct_records
from streams.contract.recording import OutRecord
from streams.errors import SourceError

ELECTION_ID = "2024-11-05"
STATE = "MN"
# Polls close at 8 pm Central (CST, UTC-6, after the Nov 3 DST change).
POLLS_CLOSE = "2024-11-06T02:00:00Z"
MEDIA_FIELDS = 16
SNAPSHOT_NAME = re.compile(r"^(\d{8}T\d{6}Z)\.txt$")
NAME_SUFFIXES = {"jr.", "jr", "sr.", "sr", "ii", "iii", "iv"}
NAME_PARTICLES = {"de", "la", "del", "van", "von", "der", "ter", "di", "da", "le"}



@dataclass(frozen=True)
class RaceFiles:
    race_id: str
    statewide: str  # folder of statewide snapshots
    by_county: str  # folder of by-county snapshots
    previous: tuple[dict[str, Any], ...] = ()


RACES = (
    # 2020 statewide result (Biden DFL 52.40%, Trump R 45.28%), for swing.
    RaceFiles("president", "USPres.txt", "USPresCty.txt",
              ({"election_id": "2020-11-03", "shares": {"DFL": 52.40, "R": 45.28}},)),
    RaceFiles("senate", "ussenate.txt", "ussenatecty.txt"),
)


@dataclass(frozen=True, slots=True)
class MediaRow:
    county_id: str
    office_name: str
    cand_id: str
    name: str
    party: str
    pcts_reporting: int
    pcts_total: int
    votes: int
    total_votes: int


def _count(text: str, field_name: str) -> int:
    if not text.isdigit():
        raise ValueError(f"{field_name} is {text!r}, not a whole number")
    return int(text)


def parse_media_line(line: str) -> MediaRow:
    """One media-file line; ValueError with a reason when it is malformed."""
    parts = line.split(";")
    if len(parts) != MEDIA_FIELDS:
        raise ValueError(f"{len(parts)} fields, expected {MEDIA_FIELDS}")
    name = " ".join(p for p in (parts[7].strip(), parts[8].strip()) if p)
    if not parts[6].strip() or not name:
        raise ValueError("empty CandID or Name")
    county = parts[1].strip()
    if county and not (county.isdigit() and 1 <= int(county) <= 87):
        raise ValueError(f"CountyID is {county!r}, not 01-87")
    return MediaRow(
        county_id=county, office_name=parts[4].strip(), cand_id=parts[6].strip(), name=name,
        party=parts[10].strip(), pcts_reporting=_count(parts[11].strip(), "PctsReporting"),
        pcts_total=_count(parts[12].strip(), "PctsTotal"), votes=_count(parts[13].strip(), "Votes"),
        total_votes=_count(parts[15].strip(), "TotalVotesForOffice"))


def read_lines(path: Path) -> list[str]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")  # the SoS writes from Windows; names may carry accents
    return text.splitlines()


def read_media_file(path: Path, on_error: ErrorSink) -> list[MediaRow]:
    rows = []
    for line_no, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        try:
            rows.append(parse_media_line(line))
        except ValueError as e:
            on_error(SourceError(str(path), str(line_no), str(e)))
    return rows


def snapshot_ms(path: Path) -> int:
    """The snapshot's UTC fetch time (from its name), ms since the epoch."""
    match = SNAPSHOT_NAME.match(path.name)
    if not match:
        raise SourceError(str(path), "name", "snapshot files are named by UTC time, like 20241106T033001Z.txt")
    when = datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def rfc3339(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def snapshots(folder: Path) -> dict[int, Path]:
    """Snapshot time (ms) -> file, for one media file's folder."""
    if not folder.is_dir():
        raise SourceError(str(folder), "folder", "missing: expected one folder per media file")
    return {snapshot_ms(p): p for p in sorted(folder.iterdir()) if p.suffix == ".txt"}


def county_fips(county_id: str) -> str:
    """Minnesota's alphabetical CountyID 01-87 -> FIPS (Aitkin 01 -> 27001, Yellow Medicine 87 -> 27173)."""
    return f"27{2 * int(county_id) - 1:03d}"


def candidate_id(cand_id: str) -> str:
    """Stable across snapshots and corrections of a name: derived from the SoS CandID only."""
    return f"cand-{cand_id}"


def short_name(name: str) -> str:
    """The first person's last name: 'Kamala D. Harris and Tim Walz' -> 'Harris'."""
    words = name.split(" and ")[0].split()
    while len(words) > 1 and words[-1].lower() in NAME_SUFFIXES:
        words.pop()
    if len(words) == 1:
        return words[0].capitalize() if words[0].isupper() else words[0]  # WRITE-IN -> Write-in
    start = len(words) - 1
    while start > 1 and words[start - 1].lower() in NAME_PARTICLES:
        start -= 1
    return " ".join(words[start:])


def registered_by_county(path: Path, on_error: ErrorSink) -> dict[str, int]:
    """County FIPS -> voters registered at 7 am, summed over pctstats.txt precincts (field 6)."""
    totals: dict[str, int] = {}
    for line_no, line in enumerate(read_lines(path), start=1):
        parts = line.split(";")
        if not line.strip():
            continue
        try:
            fips, registered = county_fips(parts[1]), _count(parts[5].strip(), "registered voters")
        except (ValueError, IndexError) as e:
            on_error(SourceError(str(path), str(line_no), f"bad precinct statistics line ({e})"))
            continue
        totals[fips] = totals.get(fips, 0) + registered
    return {fips: n for fips, n in totals.items() if n > 0}


def _race_key(race: RaceFiles) -> str:
    return contract.race_key(ELECTION_ID, race.race_id, STATE)


def race_definition(race: RaceFiles, statewide: list[MediaRow], certified: bool) -> dict[str, Any]:
    candidates = [{"candidate_id": candidate_id(r.cand_id), "name": r.name, "party": r.party,
                   "short_name": short_name(r.name)} for r in statewide]
    return {
        "schema": "race-definition/1", "election_id": ELECTION_ID, "race_id": race.race_id, "state": STATE,
        "office": statewide[0].office_name, "candidates": candidates,
        "precincts_total": statewide[0].pcts_total, "polls_close": POLLS_CLOSE, "certified": certified,
        "previous": list(race.previous)}


def expected_vote(race: RaceFiles, final_statewide: list[MediaRow], final_counties: list[MediaRow],
                  issued_ms: int) -> dict[str, Any]:
    """The certified final used as the expected vote (the source has no estimate; see module doc)."""
    county_expected = {county_fips(r.county_id): r.total_votes for r in final_counties if r.total_votes > 0}
    return {
        "schema": "expected-vote/1", "election_id": ELECTION_ID, "race_id": race.race_id, "state": STATE,
        "expected_votes": final_statewide[0].total_votes or None, "county_expected": county_expected,
        "seq": 0, "issued_at": rfc3339(issued_ms)}


def by_county(rows: list[MediaRow]) -> dict[str, list[MediaRow]]:
    counties: dict[str, list[MediaRow]] = {}
    for row in rows:
        counties.setdefault(row.county_id, []).append(row)
    return counties


def county_reports(race: RaceFiles, rows: list[MediaRow], at_ms: int, registered: dict[str, int],
                   tracker: UnitTracker) -> list[dict[str, Any]]:
    """The reports of the counties that changed since their last report."""
    changed: list[dict[str, Any]] = []
    for county_id, county_rows in by_county(rows).items():
        fips = county_fips(county_id)
        votes = {candidate_id(r.cand_id): r.votes for r in county_rows}
        reporting, total = county_rows[0].pcts_reporting, county_rows[0].pcts_total
        seq = tracker.next_seq(f"{race.race_id}/{fips}", (votes, reporting, total))
        if seq is None:
            continue
        value: dict[str, Any] = {
            "schema": "precinct-result/1", "election_id": ELECTION_ID, "race_id": race.race_id, "state": STATE,
            "county_fips": fips, "precinct_id": fips, "seq": seq, "reported_at": rfc3339(at_ms), "votes": votes,
            "complete": reporting == total, "mode": "live", "precincts_reporting": reporting,
            "precincts_total": total}
        if fips in registered:
            value["registered_voters"] = registered[fips]
        changed.append(value)
    return changed


@dataclass
class RaceSource:
    """One race's snapshot files; each is read when its time comes."""

    race: RaceFiles
    statewide: dict[int, Path]
    counties: dict[int, Path]
    _parsed: dict[int, list[MediaRow]] = field(default_factory=dict)

    @classmethod
    def open(cls, root: Path, race: RaceFiles) -> RaceSource:
        statewide, counties = snapshots(root / race.statewide), snapshots(root / race.by_county)
        if not statewide or not counties:
            raise SourceError(str(root / race.statewide), "folder", "no snapshots")
        return cls(race, statewide, counties)

    def county_rows(self, at_ms: int, on_error: ErrorSink) -> list[MediaRow]:
        # The final file is read twice (expected vote, then its reports): parse and report it once.
        if at_ms not in self._parsed:
            rows = [r for r in read_media_file(self.counties[at_ms], on_error) if r.county_id]
            if at_ms != max(self.counties):
                return rows
            self._parsed[at_ms] = rows
        return self._parsed[at_ms]

    @property
    def first_ms(self) -> int:
        return min(self.statewide)

    @property
    def final_ms(self) -> int:
        return max(self.statewide)


def _statewide_rows(source: RaceSource, at_ms: int, on_error: ErrorSink) -> list[MediaRow]:
    path = source.statewide[at_ms]
    rows = [r for r in read_media_file(path, on_error) if not r.county_id]
    if not rows:
        raise SourceError(str(path), "1", "no statewide rows (CountyID empty)")
    return rows


def opening_records(sources: list[RaceSource], finals: dict[str, list[MediaRow]],
                    on_error: ErrorSink) -> Iterator[OutRecord]:
    """Definitions (not certified) and expected votes, at the first snapshot."""
    for source in sources:
        definition = race_definition(source.race, finals[source.race.race_id], certified=False)
        yield OutRecord(source.first_ms, contract.RACE_DEFINITIONS, _race_key(source.race), definition)
    for source in sources:
        final_counties = source.county_rows(max(source.counties), on_error)
        value = expected_vote(source.race, finals[source.race.race_id], final_counties, source.first_ms)
        yield OutRecord(source.first_ms, contract.EXPECTED_VOTES, _race_key(source.race), value)


def certified_definition(source: RaceSource, final_rows: list[MediaRow]) -> OutRecord:
    # The State Canvassing Board certified the 2024 general on 2024-11-26; the archive has no
    # snapshot between Nov 8 and the final one of Dec 13, so the certified definition goes
    # just before that final snapshot, which carries the certified figures.
    definition = race_definition(source.race, final_rows, certified=True)
    return OutRecord(source.final_ms - 1, contract.RACE_DEFINITIONS, _race_key(source.race), definition)


def night_records(root: Path, on_error: ErrorSink) -> Iterator[OutRecord]:
    """Every record of the night in `root`, in source-time order."""
    sources = [RaceSource.open(root, race) for race in RACES]
    # Candidates, precinct totals and the expected vote come from the final statewide file.
    finals = {s.race.race_id: _statewide_rows(s, s.final_ms, on_error) for s in sources}
    registered = registered_by_county(root / "pctstats.txt" / _only_snapshot(root / "pctstats.txt"), on_error)
    yield from opening_records(sources, finals, on_error)
    tracker = UnitTracker()
    for at_ms in sorted({ms for s in sources for ms in s.counties}):
        yield from (certified_definition(s, finals[s.race.race_id]) for s in sources if s.final_ms == at_ms)
        changed = [report for source in sources if at_ms in source.counties
                   for report in county_reports(source.race, source.county_rows(at_ms, on_error), at_ms,
                                                registered, tracker)]
        yield from precinct_records(at_ms, changed)  # one fetch of the night: one poll of the state


def _only_snapshot(folder: Path) -> str:
    """pctstats.txt is fetched once (registrations at 7 am do not change): its latest snapshot."""
    found = snapshots(folder)
    if not found:
        raise SourceError(str(folder), "folder", "no snapshot of precinct statistics")
    return found[max(found)].name


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", type=Path, metavar="DIR",
                        help="the night's folder: one sub-folder per media file (USPres.txt/, USPresCty.txt/, "
                             "ussenate.txt/, ussenatecty.txt/, pctstats.txt/), one snapshot per UTC fetch time")
    parser.add_argument("--strict", action="store_true",
                        help="stop at the first malformed line instead of reporting and skipping it")


def records(args: argparse.Namespace, on_error: ErrorSink | None = None) -> Iterator[OutRecord]:
    if not Path(args.dir).is_dir():
        raise SourceError(str(args.dir), "folder", "not a directory")
    return night_records(Path(args.dir), on_error or error_sink(args.strict, "mn-sos"))
