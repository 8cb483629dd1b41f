"""AP Elections API (v2 JSON) responses -> contract records.

Input: one or more saved responses (`GET /v2/elections/{date}?level=ru...`), oldest first.
A response is `{electionDate, timestamp, races[], nextrequest}`; a race carries its
`reportingUnits[]` (results) or, in an `omitResults` response, its `candidates[]` only.

Decisions, so a reader does not have to guess:
- **Which level is tallied.** AP sends the same votes at several levels (the `state` unit and
  its `subunit`s, towns or counties). Tallying two levels of one race doubles the votes, so one
  level per race and state is emitted: by default the lowest present, else `--level`.
- **Unit ids.** AP reuses `reportingunitID` across levels, so `precinct_id` is
  `{level}:{reportingunitID}` (`subunit:22001`); the state unit, which has no id, is `state:MA`.
- **County FIPS.** A subunit's `fipsCode`; a unit without one (the state unit) gets the state
  FIPS followed by `000`, the Census code for "the whole state" (Alaska's AP subunit is 02000).
- **Candidates.** `candidate_id` is AP's `polID` (the person, the same in every state and
  race); `candidateID` (per race) only when `polID` is missing.
- **Mode.** `test: true` -> `mode: test`.
- **Times.** `reported_at` is the unit's `lastUpdated`. AP does not send poll closing times:
  `polls_close` is `--polls-close`, else the race's earliest `lastUpdated` (AP only publishes
  what may be published).
- **Polls.** The changed units of every race of one state and mode in one response go out as
  one `state-poll/1` (split if over 1 MiB), at the latest `lastUpdated` among them: race by
  race in the response's order, each race's units in `lastUpdated` order.
- **Race definitions** are emitted with a race's first results and again whenever they change
  (candidates or precincts); `precincts_total` sums the emitted units' `precinctsTotal`.
- AP v2 carries no expected vote; none is emitted.
- **Calls and race rules** (streams.adapters.ap_calls): AP's winners and `raceCallStatus` become
  `race-call/1` records by `AP`; `numWinners`, `winThreshold`, `uncontested`,
  `tabulationStatus` and each candidate's `incumbent` go into the race definition.

A malformed race or unit is a `SourceError` naming file and JSON path; it is reported on
stderr and skipped (`--strict` raises instead), and the good units around it are kept.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from streams import contract
from streams.adapters.ap_calls import APCall, CallTracker, race_calls, race_rules
from streams.adapters.base import ErrorSink, UnitTracker, error_sink, precinct_records, rfc3339_ms
from streams.contract.recording import OutRecord
from streams.errors import SourceError
from streams.geo.geography import STATE_FIPS

# Coarse to fine. AP's `level` values; a finer level refines the coarser ones.
LEVEL_RANK = {"national": 0, "state": 1, "district": 2, "county": 3, "fipscode": 3, "subunit": 4,
              "township": 5, "precinct": 6}


@dataclass(frozen=True, slots=True)
class Unit:
    """One reporting unit of one race, already checked."""

    level: str
    state: str
    precinct_id: str
    county_fips: str
    reported_at: str
    reported_ms: int
    votes: dict[str, int]
    precincts_reporting: int
    precincts_total: int


@dataclass(frozen=True, slots=True)
class Race:
    race_id: str
    office: str
    mode: str
    candidates: tuple[dict[str, Any], ...]
    units: tuple[Unit, ...]
    # An `omitResults` race has no units, only its own state and time.
    state: str | None = None
    updated: str | None = None
    rules: dict[str, Any] = field(default_factory=dict)  # race-definition fields (ap_calls.race_rules)
    calls: tuple[APCall, ...] = ()



def _count(obj: dict[str, Any], name: str) -> int:
    value = obj.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} is {value!r}, not a whole number >= 0")
    return value


def _text(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} is {value!r}, not a non-empty string")
    return value


def candidate_id(cand: dict[str, Any]) -> str:
    return str(cand.get("polID") or _text(cand, "candidateID"))


def candidate_entry(cand: dict[str, Any]) -> dict[str, Any]:
    name = " ".join(str(cand[k]) for k in ("first", "last") if cand.get(k))
    entry: dict[str, Any] = {"candidate_id": candidate_id(cand), "name": name or _text(cand, "last"),
             "party": str(cand.get("party") or "")}
    if cand.get("last"):
        entry["short_name"] = str(cand["last"])
    if cand.get("incumbent") is True:
        entry["incumbent"] = True
    return entry


def parse_unit(ru: dict[str, Any]) -> Unit:
    level = _text(ru, "level").lower()
    if level not in LEVEL_RANK:
        raise ValueError(f"level {level!r} is not one of {sorted(LEVEL_RANK)}")
    state = _text(ru, "statePostal")
    if state not in STATE_FIPS:
        raise ValueError(f"statePostal {state!r} is not a U.S. state code")
    unit_id = ru.get("reportingunitID") or state
    fips = ru.get("fipsCode") or f"{STATE_FIPS[state]}000"
    if not (isinstance(fips, str) and len(fips) == 5 and fips.isdigit()):
        raise ValueError(f"fipsCode {fips!r} is not 5 digits")
    votes: dict[str, int] = {}
    for i, cand in enumerate(ru.get("candidates") or ()):
        try:
            votes[candidate_id(cand)] = _count(cand, "voteCount")
        except ValueError as e:
            raise ValueError(f"candidates[{i}]: {e}") from None
    return Unit(level, state, f"{level}:{unit_id}", fips, _text(ru, "lastUpdated"),
                rfc3339_ms(ru.get("lastUpdated"), "lastUpdated"), votes,
                _count(ru, "precinctsReporting"), _count(ru, "precinctsTotal"))


def parse_race(race: dict[str, Any], source: str, where: str, on_error: ErrorSink) -> Race:
    """A race's checked units; a bad unit is reported through `on_error` and left out."""
    units = []
    for i, ru in enumerate(race.get("reportingUnits") or ()):
        try:
            units.append(parse_unit(ru))
        except (ValueError, TypeError, AttributeError) as e:
            on_error(SourceError(source, f"{where}.reportingUnits[{i}]", str(e)))
    cand_source = race.get("candidates") or next(
        (ru.get("candidates") for ru in race.get("reportingUnits") or () if ru.get("candidates")), ())
    candidates = tuple(candidate_entry(c) for c in cand_source)
    ids = [c["candidate_id"] for c in candidates]
    if len(set(ids)) != len(ids):
        raise ValueError(f"candidate ids {ids} are not unique")
    office = _text(race, "officeName") + (f" ({race['party']})" if race.get("party") else "")
    mode = "test" if race.get("test") is True else "live"
    return Race(_text(race, "raceID"), office, mode, candidates, tuple(units), race.get("statePostal"),
                race.get("lastUpdated"), race_rules(race), tuple(race_calls(race, candidate_id)))


def units_to_emit(units: Iterable[Unit], level: str | None) -> list[Unit]:
    """One level per state: `level` when given, else the finest present in that state."""
    by_state: dict[str, list[Unit]] = {}
    for unit in units:
        by_state.setdefault(unit.state, []).append(unit)
    chosen: list[Unit] = []
    for state_units in by_state.values():
        want = level or max((u.level for u in state_units), key=LEVEL_RANK.__getitem__)
        chosen.extend(u for u in state_units if u.level == want)
    return chosen


@dataclass
class APMapper:
    """Maps successive AP responses to records; remembers what it already emitted."""

    election_id: str | None = None
    level: str | None = None
    polls_close: str | None = None
    tracker: UnitTracker = field(default_factory=UnitTracker)
    call_tracker: CallTracker = field(default_factory=CallTracker)
    _definitions: dict[str, Any] = field(default_factory=dict)
    _polls_close: dict[str, str] = field(default_factory=dict)  # fixed at a race's first sight

    def response_records(self, doc: Any, source: str, on_error: ErrorSink) -> Iterator[OutRecord]:
        """Records for one response (parsed JSON), in source-time order."""
        if not isinstance(doc, dict) or not isinstance(doc.get("races"), list):
            raise SourceError(source, "$", "not an AP response: no races[] list")
        election_id = self.election_id or str(doc.get("electionDate") or "")
        if not election_id:
            raise SourceError(source, "$.electionDate", "missing; pass --election-id")
        out: list[OutRecord] = []
        changed: list[dict[str, Any]] = []  # every race's: the response is one poll of each state in it
        called: list[tuple[Race, str, int]] = []  # (race, state, its latest unit's time): calls to emit
        for i, raw in enumerate(doc["races"]):
            where = f"races[{i}]"
            try:
                race = parse_race(raw, source, where, on_error)
            except (ValueError, TypeError, AttributeError) as e:
                on_error(SourceError(source, where, str(e)))
                continue
            out.extend(self._race_records(election_id, race, changed, called))
        polls = list(state_polls(changed))
        out.extend(polls)
        out.extend(self._call_records(election_id, called, polls))
        out.sort(key=lambda r: r.ts_ms)  # stable: definitions stay before their results
        yield from out

    def _race_records(self, election_id: str, race: Race, changed: list[dict[str, Any]],
                      called: list[tuple[Race, str, int]]) -> Iterator[OutRecord]:
        """The race's definitions; its changed units go to `changed`, its states to `called`."""
        if not race.units and race.state and race.updated:
            # A race list before results: define it now, precincts unknown (0) until results come.
            yield from self._definition(election_id, race, race.state, race.updated, [])
            called.append((race, race.state, rfc3339_ms(race.updated, "lastUpdated")))
        units = units_to_emit(race.units, self.level)
        for state in sorted({u.state for u in units}):
            state_units = sorted((u for u in units if u.state == state), key=lambda u: u.reported_ms)
            yield from self._definition(election_id, race, state, state_units[0].reported_at, state_units)
            key = contract.race_key(election_id, race.race_id, state)
            for unit in state_units:
                seq = self.tracker.next_seq(f"{key}/{race.mode}/{unit.precinct_id}", unit.votes)
                if seq is not None:
                    changed.append(result_value(election_id, race, unit, seq))
            called.append((race, state, state_units[-1].reported_ms))

    def _call_records(self, election_id: str, called: list[tuple[Race, str, int]],
                      polls: list[OutRecord]) -> Iterator[OutRecord]:
        """The calls that changed, each no earlier than its state's poll: a worker has the race's
        definition and its results before its call."""
        poll_ms: dict[str, int] = {}
        for poll in polls:
            key = poll.key or ""  # a poll is always keyed by its state
            poll_ms[key] = max(poll.ts_ms, poll_ms.get(key, 0))
        for race, state, latest_ms in called:
            calls = [c for c in race.calls if c.state == state]
            not_before = max(latest_ms, poll_ms.get(contract.state_key(election_id, state), 0))
            yield from self.call_tracker.records(election_id, race.race_id, race.mode, calls, not_before)

    def _definition(self, election_id: str, race: Race, state: str, first_at: str,
                    units: list[Unit]) -> Iterator[OutRecord]:
        key = contract.race_key(election_id, race.race_id, state)
        value = {"schema": "race-definition/1", "election_id": election_id, "race_id": race.race_id,
                 "state": state, "office": race.office, "candidates": list(race.candidates),
                 "precincts_total": sum(u.precincts_total for u in units),
                 "polls_close": self._polls_close.setdefault(key, self.polls_close or first_at),
                 "certified": False, **race.rules}
        if self._definitions.get(f"{key}/{race.mode}") != value:
            self._definitions[f"{key}/{race.mode}"] = value
            yield OutRecord(rfc3339_ms(first_at, "lastUpdated"), contract.RACE_DEFINITIONS, key, value)


def state_polls(changed: list[dict[str, Any]]) -> Iterator[OutRecord]:
    """One poll per state and mode of a response's changed units. A poll is known only once
    its latest unit is: its time is that unit's."""
    by_state: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for value in changed:
        by_state.setdefault((value["state"], value["mode"]), []).append(value)
    for reports in by_state.values():
        latest = max(rfc3339_ms(r["reported_at"], "lastUpdated") for r in reports)
        yield from precinct_records(latest, reports)


def result_value(election_id: str, race: Race, unit: Unit, seq: int) -> dict[str, Any]:
    return {"schema": "precinct-result/1", "election_id": election_id, "race_id": race.race_id,
            "state": unit.state, "county_fips": unit.county_fips, "precinct_id": unit.precinct_id,
            "seq": seq, "reported_at": unit.reported_at, "votes": unit.votes,
            "complete": unit.precincts_total > 0 and unit.precincts_reporting >= unit.precincts_total,
            "mode": race.mode, "precincts_reporting": unit.precincts_reporting,
            "precincts_total": unit.precincts_total}



def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", type=Path, nargs="+", metavar="FILE",
                        help="saved AP Elections API v2 JSON responses, oldest first")
    parser.add_argument("--level", choices=sorted(LEVEL_RANK),
                        help="reporting level to tally (default: the finest present per state; "
                             "tallying two levels would double the votes)")
    parser.add_argument("--election-id", help="election id (default: the response's electionDate)")
    parser.add_argument("--polls-close", metavar="RFC3339",
                        help="poll closing time for every race (default: the race's first lastUpdated)")
    parser.add_argument("--strict", action="store_true",
                        help="stop at the first malformed race or unit (default: report it on stderr, go on)")


def records(args: argparse.Namespace, on_error: ErrorSink | None = None) -> Iterator[OutRecord]:
    mapper = APMapper(args.election_id, args.level, args.polls_close)
    on_error = on_error or error_sink(args.strict)
    for path in args.files:
        try:
            doc = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as e:
            on_error(SourceError(str(path), f"char {e.pos}", f"not JSON ({e.msg})"))
            continue
        yield from mapper.response_records(doc, str(path), on_error)
