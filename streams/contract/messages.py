"""The wire contract (docs/CONTRACT.md): input messages as typed values, keys, and topic names.

Decoding and validation (`decode_*`) turn raw bytes into these values or raise
`InvalidRecord` with a reason that says what is wrong and where; the JSON Schemas in
`schemas/` describe the same rules and are tested against the same examples. The field
rules themselves (counts, ids, times, JSON decoding) are in `streams.contract.validation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, get_args

import orjson

from streams.contract.race_rules import DEFAULT_RULES, RaceRules, take_optional_flag, take_race_rules
from streams.contract.validation import (
    COUNT,
    EXPECTED,
    MAX_BATCH_REPORTS,
    MAX_ID_CHARS,
    MAX_TEXT_CHARS,
    SEQ,
    check_entries,
    expect_schema,
    missing,
    shown,
    take_flag,
    take_id,
    take_list,
    take_string,
    take_time,
    take_votes,
    too_long,
    wrong_type,
)

# Part of the contract, defined beside the rules that enforce them (`as`: an explicit re-export).
from streams.contract.validation import MAX_COUNT as MAX_COUNT
from streams.contract.validation import MAX_PAYLOAD_BYTES as MAX_PAYLOAD_BYTES
from streams.contract.validation import decode_object as decode_object
from streams.contract.validation import parse_time_ms as parse_time_ms
from streams.errors import InvalidRecord

Mode = Literal["live", "test"]
MODES: tuple[Mode, ...] = ("live", "test")

# The `schema` field of each input message.
RACE_DEFINITION_SCHEMA = "race-definition/1"
EXPECTED_VOTE_SCHEMA = "expected-vote/1"
PRECINCT_RESULT_SCHEMA = "precinct-result/1"
PRECINCT_BATCH_SCHEMA = "precinct-batch/1"
STATE_POLL_SCHEMA = "state-poll/1"

# Contract topic names (without the configured prefix).
RACE_DEFINITIONS = "race-definitions"
EXPECTED_VOTES = "expected-votes"
BASELINES = "baselines"  # `baseline/1`, a previous election per unit (streams.model.baselines)
PRECINCT_RESULTS = "precinct-results"
STATE_RESULTS = "state-results"
COUNTY_RESULTS = "county-results"
RESULTS_ALERTS = "results-alerts"
DEAD_LETTERS = "dead-letters"

# Every `type` an `alert/1` message can carry (docs/CONTRACT.md, "Alerts"). The alert builder
# takes only these, so mypy refuses a new type until it is named here, and a unit test refuses
# it until the contract document describes it.
AlertType = Literal[
    "lead_change", "counted_milestone", "count_decreased", "votes_exceed_expected", "turnout_exceeds_registered",
    "out_of_reach", "expected_vote_revised", "unknown_candidate", "needs_share_crossed", "needs_more_than_remaining",
    # the model of the vote still out (streams.counting.projection)
    "projection_settled", "expected_vote_disagrees",
    # race calls and runoffs (streams.counting.calls)
    "race_called", "call_changed", "call_retracted", "runoff_likely",
]
ALERT_TYPES: tuple[AlertType, ...] = get_args(AlertType)


@dataclass(frozen=True, slots=True)
class Candidate:
    candidate_id: str
    name: str
    party: str
    short_name: str | None = None
    incumbent: bool = False

    @property
    def display(self) -> str:
        """The name used in readouts: `short_name`, else the last word of `name`."""
        return self.short_name or self.name.split()[-1]


@dataclass(frozen=True, slots=True)
class PreviousResult:
    election_id: str
    shares: dict[str, float]  # party -> percent


@dataclass(frozen=True, slots=True)
class RaceDefinition:
    election_id: str
    race_id: str
    state: str
    office: str
    candidates: tuple[Candidate, ...]
    precincts_total: int
    polls_close: str  # RFC 3339, as sent
    polls_close_ms: int  # the same instant, ms since the epoch
    certified: bool
    previous: tuple[PreviousResult, ...] = ()
    # How the race is won, and the count's status as the feed says it (streams.contract.race_rules).
    rules: RaceRules = DEFAULT_RULES
    # Set by the worker from the record's offset in the compacted topic, so a changed
    # definition (say, certified) raises the snapshot version. 0 outside Kafka.
    revision: int = 0

    @property
    def key(self) -> str:
        return race_key(self.election_id, self.race_id, self.state)


@dataclass(frozen=True, slots=True)
class ExpectedVote:
    election_id: str
    race_id: str
    state: str
    expected_votes: int | None
    county_expected: dict[str, int]
    seq: int
    issued_at: str
    issued_ms: int

    @property
    def key(self) -> str:
        return race_key(self.election_id, self.race_id, self.state)


# Not frozen, unlike the other messages: a frozen dataclass's __init__ sets each field through
# object.__setattr__, 3.2 us a report here against 0.5 us, on the path every report takes.
# Nothing mutates a report once decoded.
@dataclass(slots=True)
class PrecinctReport:
    election_id: str
    race_id: str
    state: str
    county_fips: str
    precinct_id: str
    seq: int
    reported_at: str
    reported_ms: int
    votes: dict[str, int]
    complete: bool
    mode: Mode = "live"
    precincts_reporting: int | None = None
    precincts_total: int | None = None
    registered_voters: int | None = None

    @property
    def key(self) -> str:
        return race_key(self.election_id, self.race_id, self.state)

    @property
    def reporting(self) -> int:
        """Precincts this unit counts as reporting (the contract's rule)."""
        if self.precincts_reporting is not None:
            return self.precincts_reporting
        return 1 if self.complete else 0


@dataclass(frozen=True, slots=True)
class RefusedElement:
    """One invalid element of a valid batch or poll (or one invalid race entry of a poll): a
    dead letter of its own, the others are applied."""

    # Where it was, as the `votewire-index` header says it: `j` for element j of a batch's
    # `reports`, `i` for race entry i of a poll, `i.j` for element j of that entry (from 0).
    index: str
    value: bytes  # the element (or race entry) as compact JSON (the dead letter's value)
    error: InvalidRecord


@dataclass(frozen=True, slots=True)
class PrecinctRecord:
    """What one `precinct-results` record carries: one report, the reports of a batch, or the
    reports of a state's poll, race after race.

    `reports` keep the record's list order (they are applied in that order); `refused` are its
    invalid elements and race entries. A record that is invalid as a whole raises instead.
    """

    key: str  # `{election_id}/{state}`: the record's right key (design rule 3), its home
    reports: list[PrecinctReport]
    refused: list[RefusedElement]


class TallyKey(NamedTuple):
    """One tally: a race in a state, live or test.

    A NamedTuple, not a frozen dataclass: every report looks its tally up by it, and a tuple
    hashes and compares in C (a dataclass's generated `__hash__` and `__eq__` are Python).
    """

    election_id: str
    race_id: str
    state: str
    mode: Mode

    @property
    def race(self) -> str:
        return race_key(self.election_id, self.race_id, self.state)

    @property
    def home(self) -> str:
        """The state key: its home partition holds every race of the state (design rule 3)."""
        return state_key(self.election_id, self.state)

    @property
    def state_result_key(self) -> str:
        return f"{self.race}/{self.mode}"

    def county_result_key(self, county_fips: str) -> str:
        return f"{self.race}/{county_fips}/{self.mode}"


def race_key(election_id: str, race_id: str, state: str) -> str:
    """A race in a state: `{election_id}/{race_id}/{state}`, the key of race definitions,
    expected votes and alerts (and of precinct results before design rule 3 keyed them by state)."""
    return f"{election_id}/{race_id}/{state}"


def state_key(election_id: str, state: str) -> str:
    """The key of `precinct-results` (design rule 3): `{election_id}/{state}`."""
    return f"{election_id}/{state}"


@dataclass(frozen=True, slots=True)
class Alert:
    alert_id: str
    type: AlertType
    severity: Literal["info", "warning", "critical"]
    election_id: str
    race_id: str
    state: str
    mode: Mode
    message: str
    at: str
    details: dict[str, object] = field(default_factory=dict)
    county_fips: str | None = None
    precinct_id: str | None = None

    @property
    def key(self) -> str:
        return race_key(self.election_id, self.race_id, self.state)


# --- Decoding: bytes -> messages, or InvalidRecord -----------------------------------------
#
# For precinct results the verdict deliberately equals the one of the team's independent
# reference checker (`reference_tally.py`, kept outside this repository), so the dead-letter
# count can be checked against it. Where the contract leaves room, that decides:
# - county_fips is any non-empty string: 5 digits are expected, not enforced.
# - precincts_reporting, precincts_total and registered_voters may be absent, not null.
# - seq is any integer >= 0 (a version, not a count: no 2^53 cap).
# - times: see `parse_time_ms`. The one place this is stricter than the reference is a time
#   without an offset; that names no instant, and the reference's own output check
#   (check_outputs.py) cannot compare such a time with polls_close either.


def decode_race_definition(raw: bytes | None) -> RaceDefinition:
    return parse_race_definition(decode_object(raw))


def decode_expected_vote(raw: bytes | None) -> ExpectedVote:
    return parse_expected_vote(decode_object(raw))


def decode_precinct_record(raw: bytes | None) -> PrecinctRecord:
    return parse_precinct_record(decode_object(raw))


def parse_precinct_record(obj: Mapping[str, Any]) -> PrecinctRecord:
    """A `precinct-results` record: a single `precinct-result/1`, a `precinct-batch/1` or a
    `state-poll/1`."""
    schema = obj.get("schema")
    if schema == PRECINCT_BATCH_SCHEMA:
        return parse_precinct_batch(obj)
    if schema == STATE_POLL_SCHEMA:
        return parse_state_poll(obj)
    report = parse_precinct_report(obj)
    return PrecinctRecord(state_key(report.election_id, report.state), [report], [])


def parse_precinct_batch(obj: Mapping[str, Any]) -> PrecinctRecord:
    """A `precinct-batch/1`: each element is checked alone, as if it had come as a single report
    with the batch's `election_id, race_id, state, mode`. The same verdicts as the team's
    reference checker's (`reference_tally.py`, outside this repository)."""
    ids = (take_id(obj, "election_id"), take_id(obj, "race_id"), take_id(obj, "state"))
    mode = parse_mode(obj)
    items = _take_entries(obj, "reports", "a batch carries at least one report")
    reports: list[PrecinctReport] = []
    refused: list[RefusedElement] = []
    _take_elements(items, ids, mode, "", reports, refused)
    return PrecinctRecord(state_key(ids[0], ids[2]), reports, refused)


def parse_state_poll(obj: Mapping[str, Any]) -> PrecinctRecord:
    """A `state-poll/1`: race by race, each race entry judged alone (a bad one is refused whole,
    index `i`), then each of its elements as in a batch (index `i.j`)."""
    election_id, state = take_id(obj, "election_id"), take_id(obj, "state")
    mode = parse_mode(obj)
    races = _take_entries(obj, "races", "a poll carries at least one race")
    elements = sum(len(r["reports"]) for r in races if type(r) is dict and type(r.get("reports")) is list)
    if elements > MAX_BATCH_REPORTS:  # one record must not cost more than its bytes in dead letters
        raise InvalidRecord(f"races hold {elements} reports, at most {MAX_BATCH_REPORTS} in a poll", "too_many")
    reports: list[PrecinctReport] = []
    refused: list[RefusedElement] = []
    for i, race in enumerate(races):
        try:
            race_id, items = _race_entry(race)
        except InvalidRecord as error:
            refused.append(RefusedElement(str(i), orjson.dumps(race), _located(f"races[{i}]", error)))
            continue
        _take_elements(items, (election_id, race_id, state), mode, f"{i}.", reports, refused)
    return PrecinctRecord(state_key(election_id, state), reports, refused)


def _race_entry(race: object) -> tuple[str, list[Any]]:
    """A poll's race entry: its `race_id` and its `reports`."""
    if type(race) is not dict:
        raise wrong_type("the race entry", race, "an object ({race_id, reports})")
    return take_id(race, "race_id"), _take_entries(race, "reports", "a race entry carries at least one report")


def _take_entries(obj: Mapping[str, Any], name: str, at_least_one: str) -> list[Any]:
    """A list field of a batch or a poll: a list of 1 to `MAX_BATCH_REPORTS` entries."""
    items = take_list(obj, name)
    if not items:
        raise InvalidRecord(f"{name} is empty, {at_least_one}", "empty_batch")
    check_entries(name, items, MAX_BATCH_REPORTS)
    return items


def _take_elements(items: list[Any], ids: tuple[str, str, str], mode: Mode, prefix: str,
                   reports: list[PrecinctReport], refused: list[RefusedElement]) -> None:
    """The elements of one race's `reports`, each judged alone; `prefix` is the race entry's
    index in a poll (`"i."`), empty in a batch."""
    envelope = {"election_id": ids[0], "race_id": ids[1], "state": ids[2], "mode": mode}
    label = f"races[{prefix[:-1]}].reports" if prefix else "reports"
    for index, item in enumerate(items):
        try:
            _check_element(item, envelope)
            # The envelope's fields are valid and the element agrees with them: what is left
            # are the unit's own fields, in the order a single report checks them.
            reports.append(_unit_report(item, ids, take_time(item, "reported_at"), mode))
        except InvalidRecord as error:
            located = _located(f"{label}[{index}]", error)
            refused.append(RefusedElement(f"{prefix}{index}", orjson.dumps(item), located))


def _located(where: str, error: InvalidRecord) -> InvalidRecord:
    return InvalidRecord(f"{where}: {error.reason}", error.kind)


def _check_element(item: object, envelope: dict[str, str]) -> None:
    """An element must be an object, of no other schema, agreeing with its batch."""
    if type(item) is not dict:
        raise wrong_type("the element", item, "an object (a precinct report)")
    if item.get("schema", PRECINCT_RESULT_SCHEMA) != PRECINCT_RESULT_SCHEMA:
        raise InvalidRecord(f"schema is {shown(item['schema'])}, want {PRECINCT_RESULT_SCHEMA!r} or none",
                            "unknown_schema")
    # Rare: a feed that repeats the batch's fields in each element. `isdisjoint` looks the
    # envelope's four names up; `&` built a set per element.
    if not item.keys().isdisjoint(envelope):
        for name, value in envelope.items():
            if name in item and item[name] != value:
                raise InvalidRecord(f"{name} is {shown(item[name])}, but the batch's is {value!r}",
                                    "batch_mismatch")


def parse_precinct_report(obj: Mapping[str, Any]) -> PrecinctReport:
    """A `precinct-result/1` message. The report holds `obj["votes"]` itself, not a copy."""
    expect_schema(obj, PRECINCT_RESULT_SCHEMA)
    reported = take_time(obj, "reported_at")
    ids = (take_id(obj, "election_id"), take_id(obj, "race_id"), take_id(obj, "state"))
    return _unit_report(obj, ids, reported, None)


def _unit_report(obj: Mapping[str, Any], ids: tuple[str, str, str], reported: tuple[str, int],
                 mode: Mode | None) -> PrecinctReport:
    """The report from its unit's fields; `mode` None: the object's own (checked after `complete`)."""
    county_fips = take_id(obj, "county_fips")
    precinct_id = take_id(obj, "precinct_id")
    seq = SEQ.take(obj, "seq")
    votes = take_votes(obj)
    complete = take_flag(obj, "complete")
    return PrecinctReport(
        ids[0], ids[1], ids[2], county_fips, precinct_id, seq, reported[0], reported[1], votes, complete,
        parse_mode(obj) if mode is None else mode,
        COUNT.take_if_present(obj, "precincts_reporting"),
        COUNT.take_if_present(obj, "precincts_total"),
        COUNT.take_if_present(obj, "registered_voters"),
    )


def parse_expected_vote(obj: Mapping[str, Any]) -> ExpectedVote:
    """An `expected-vote/1` message: the whole current estimate for a race and state."""
    expect_schema(obj, EXPECTED_VOTE_SCHEMA)
    issued_at, issued_ms = take_time(obj, "issued_at")
    # expected_votes must be there; null says "no statewide estimate".
    statewide = None if obj.get("expected_votes", 0) is None else EXPECTED.take(obj, "expected_votes")
    return ExpectedVote(
        election_id=take_id(obj, "election_id"),
        race_id=take_id(obj, "race_id"),
        state=take_id(obj, "state"),
        expected_votes=statewide,
        county_expected=_county_expected(obj),
        seq=SEQ.take(obj, "seq"),
        issued_at=issued_at,
        issued_ms=issued_ms,
    )


def parse_race_definition(obj: Mapping[str, Any]) -> RaceDefinition:
    """A `race-definition/1` message (`revision` stays 0: the worker sets it)."""
    expect_schema(obj, RACE_DEFINITION_SCHEMA)
    polls_close, polls_close_ms = take_time(obj, "polls_close")
    return RaceDefinition(
        election_id=take_id(obj, "election_id"),
        race_id=take_id(obj, "race_id"),
        state=take_id(obj, "state"),
        office=take_string(obj, "office"),
        candidates=_candidates(obj),
        precincts_total=COUNT.take(obj, "precincts_total"),
        polls_close=polls_close,
        polls_close_ms=polls_close_ms,
        certified=take_flag(obj, "certified"),
        previous=_previous_results(obj),
        rules=take_race_rules(obj),
    )


def parse_mode(obj: Mapping[str, Any]) -> Mode:
    mode = obj.get("mode", "live")
    if mode == "live":
        return "live"
    if mode == "test":
        return "test"
    raise InvalidRecord(f"mode is {shown(mode)}, want 'live' or 'test'", "bad_mode")


def _county_expected(obj: Mapping[str, Any]) -> dict[str, int]:
    counties = obj.get("county_expected")
    if counties is None:  # optional; null means the same as absent
        return {}
    if type(counties) is not dict:
        raise wrong_type("county_expected", counties, "an object of {county_fips: expected votes}")
    check_entries("county_expected", counties)
    if "" in counties:
        raise InvalidRecord("county_expected has an empty county_fips", "empty_id")
    for fips in counties:
        if len(fips) > MAX_ID_CHARS:
            raise too_long("a county_fips in county_expected", fips, MAX_ID_CHARS)
    return {fips: EXPECTED.take(counties, fips, "county_expected.") for fips in counties}


def _candidates(obj: Mapping[str, Any]) -> tuple[Candidate, ...]:
    items = take_list(obj, "candidates")
    check_entries("candidates", items)
    candidates = tuple(_candidate(item, f"candidates[{i}].") for i, item in enumerate(items))
    seen: set[str] = set()
    for candidate in candidates:
        if candidate.candidate_id in seen:
            raise InvalidRecord(f"candidates has {candidate.candidate_id!r} twice", "duplicate_id")
        seen.add(candidate.candidate_id)
    return candidates


def _candidate(item: object, label: str) -> Candidate:
    if type(item) is not dict:
        raise wrong_type(label.rstrip("."), item, "an object")
    name = take_string(item, "name", label)
    if not name.strip():
        # Readouts name a candidate by the last word of `name`; a blank one has none.
        raise InvalidRecord(f"{label}name is {shown(name)}, a name must not be blank", "empty_name")
    short_name = item.get("short_name")
    if short_name is not None and type(short_name) is not str:
        raise wrong_type(f"{label}short_name", short_name, "a string or null")
    if short_name is not None and len(short_name) > MAX_TEXT_CHARS:
        raise too_long(f"{label}short_name", short_name, MAX_TEXT_CHARS)
    return Candidate(take_id(item, "candidate_id", label), name, take_string(item, "party", label), short_name,
                     take_optional_flag(item, "incumbent", label))


def _previous_results(obj: Mapping[str, Any]) -> tuple[PreviousResult, ...]:
    if obj.get("previous") is None:  # optional; null means the same as absent
        return ()
    items = take_list(obj, "previous")
    check_entries("previous", items)
    return tuple(_previous_result(item, f"previous[{i}].") for i, item in enumerate(items))


def _previous_result(item: object, label: str) -> PreviousResult:
    if type(item) is not dict:
        raise wrong_type(label.rstrip("."), item, "an object")
    election_id = take_id(item, "election_id", label)
    shares = item.get("shares")
    if type(shares) is not dict:
        raise missing(item, "shares", label) or wrong_type(f"{label}shares", shares, "an object of {party: percent}")
    check_entries(f"{label}shares", shares)
    for party in shares:
        if len(party) > MAX_TEXT_CHARS:
            raise too_long(f"a party in {label}shares", party, MAX_TEXT_CHARS)
    return PreviousResult(election_id, {party: _percent(n, f"{label}shares.{party}") for party, n in shares.items()})


def _percent(value: object, field: str) -> float:
    if type(value) is not int and type(value) is not float:
        raise wrong_type(field, value, "a percent (a number)")
    if not 0 <= value <= 100:
        raise InvalidRecord(f"{field} is {shown(value)}, a percent must be between 0 and 100", "bad_percent")
    return float(value)
