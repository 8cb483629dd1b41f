"""Race calls: the `race-call/1` message of the compacted `race-calls` topic, and its decoding.

A call is the desk's (or AP's) decision on one race in one state and mode: `called` (its
`winners`, up to the race's seats), `runoff` (the two or more who advance), `too_early` or
`too_close` (no winner yet, said out loud), or `retracted` (an earlier call withdrawn). Keyed
`{election_id}/{race_id}/{state}/{mode}`, like the race's snapshot, so compaction keeps the
latest call of each race and mode and a test call never compacts a live one away. A higher
`seq` replaces the held call; `at` is the call's source time.

Decoding checks the message alone. Whether the race and its candidates exist is the worker's
to say, against its race book (streams.counting.calls.check_call): a call for a race or a
candidate it does not know is a dead letter with that reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from streams.contract.messages import Mode, TallyKey, parse_mode, race_key
from streams.contract.validation import (
    SEQ,
    check_entries,
    decode_object,
    expect_schema,
    shown,
    take_id,
    take_time,
    wrong_type,
)
from streams.errors import InvalidRecord

RACE_CALLS = "race-calls"
RACE_CALL_SCHEMA = "race-call/1"
CallStatus = Literal["called", "too_early", "too_close", "runoff", "retracted"]
CALL_STATUSES: tuple[CallStatus, ...] = ("called", "too_early", "too_close", "runoff", "retracted")
# A call in force names who won or who advances; the others name nobody.
IN_FORCE: frozenset[str] = frozenset({"called", "runoff"})
LEAST_WINNERS = {"called": 1, "runoff": 2}


@dataclass(frozen=True, slots=True)
class RaceCall:
    election_id: str
    race_id: str
    state: str
    mode: Mode
    status: CallStatus
    winners: tuple[str, ...]
    by: str  # "AP", or the desk's name
    at: str  # RFC 3339, as sent
    at_ms: int
    seq: int
    # Set by the worker from the record's offset in the compacted topic (like a definition's):
    # a snapshot's version rises with a new call. 0 outside Kafka.
    revision: int = 0

    @property
    def race(self) -> str:
        return race_key(self.election_id, self.race_id, self.state)

    @property
    def tally_key(self) -> TallyKey:
        return TallyKey(self.election_id, self.race_id, self.state, self.mode)

    @property
    def in_force(self) -> bool:
        return self.status in IN_FORCE

    def as_wire(self) -> dict[str, Any]:
        """The call as a snapshot carries it."""
        return {"status": self.status, "winners": list(self.winners), "by": self.by, "at": self.at}


def decode_race_call(raw: bytes | None) -> RaceCall:
    return parse_race_call(decode_object(raw))


def parse_race_call(obj: Mapping[str, Any]) -> RaceCall:
    expect_schema(obj, RACE_CALL_SCHEMA)
    ids = (take_id(obj, "election_id"), take_id(obj, "race_id"), take_id(obj, "state"))
    mode = parse_mode(obj)
    status = _status(obj)
    at, at_ms = take_time(obj, "at")
    return RaceCall(*ids, mode, status, _winners(obj, status), take_id(obj, "by"), at, at_ms, SEQ.take(obj, "seq"))


def race_call_value(race: str, mode: Mode, status: CallStatus, winners: Sequence[str], by: str, at: str,
                    seq: int) -> dict[str, Any]:
    """A `race-call/1` message for the race key `{election_id}/{race_id}/{state}`."""
    election_id, race_id, state = race.split("/")
    return {"schema": RACE_CALL_SCHEMA, "election_id": election_id, "race_id": race_id, "state": state,
            "mode": mode, "status": status, "winners": list(winners), "by": by, "at": at, "seq": seq}


def race_call_key(value: Mapping[str, Any]) -> str:
    """The record key of a `race-call/1` value: its race and mode."""
    return f"{race_key(value['election_id'], value['race_id'], value['state'])}/{value.get('mode', 'live')}"


def _status(obj: Mapping[str, Any]) -> CallStatus:
    status = obj.get("status")
    if status in CALL_STATUSES:
        return cast(CallStatus, status)
    if "status" not in obj:
        raise InvalidRecord("status is missing", "missing_field")
    raise InvalidRecord(f"status is {shown(status)}, want one of {', '.join(CALL_STATUSES)}", "bad_status")


def _winners(obj: Mapping[str, Any], status: CallStatus) -> tuple[str, ...]:
    items = obj.get("winners")
    if items is None:
        items = []
    if type(items) is not list:
        raise wrong_type("winners", items, "a list of candidate ids")
    check_entries("winners", items)
    winners = tuple(take_id({f"winners[{i}]": w}, f"winners[{i}]") for i, w in enumerate(items))
    if len(set(winners)) != len(winners):
        raise InvalidRecord(f"winners names a candidate twice ({shown(list(winners))})", "duplicate_id")
    least = LEAST_WINNERS.get(status, 0)
    if len(winners) < least:
        named = f"{len(winners)} candidate{'' if len(winners) == 1 else 's'}"
        raise InvalidRecord(f"winners names {named}, a {status} call names at least {least}", "bad_call")
    if winners and not least:
        raise InvalidRecord(f"winners is {shown(list(winners))}, a {status} call names nobody", "bad_call")
    return winners
