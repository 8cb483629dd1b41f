"""The field rules of the wire contract: bytes to a JSON object, and typed reads of its fields.

`streams.contract` builds its messages from these; this module knows no message, so it can be
imported by anything (and imports nothing of ours but the error). Each reader takes the
object and a field name, returns the value when it is good, and otherwise raises
`InvalidRecord` whose reason names the field and the value (`votes.harris is -5, counts must
be >= 0`) and whose `kind` classes it for the `votewire-error` header.

Precinct results pass through here a million times a minute, so the common case is a dict
lookup and a `type(...) is` test; a reason is only built for a value already known to be bad.
`type(x) is int`, not `isinstance`, because JSON `true` decodes to a bool, which is an int.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sized
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from streams.errors import InvalidRecord

MAX_PAYLOAD_BYTES = 1 << 20
MAX_COUNT = 1 << 53  # the largest integer every JSON reader holds exactly (a double's mantissa)
# Limits that keep one hostile record from costing more than its bytes (fuzzing found each).
MAX_SEQ = (1 << 63) - 1  # a Java long: every Kafka client and newsroom system can hold it
# orjson reads 1,024 levels but writes back only 254: deeper, a record's refused elements and
# a recording's values could not be written out again. Real messages nest 4 levels.
MAX_DEPTH = 254
MAX_ID_CHARS = 256  # election, race, state, county, precinct and candidate ids
MAX_TEXT_CHARS = 1024  # display texts: office, names, parties
MAX_BATCH_REPORTS = 10_000  # elements of a batch (1 MiB holds about 10,000 of the smallest)
MAX_ENTRIES = 10_000  # votes per report, candidates per race, counties per estimate

_UTF8_BOM = b"\xef\xbb\xbf"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def decode_object(raw: bytes | None) -> dict[str, Any]:
    """The JSON object in a record's value; `InvalidRecord` for anything else."""
    if raw is None:
        raise InvalidRecord("value is null (a tombstone), want a JSON object", "not_json")
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise InvalidRecord(f"value is {len(raw)} bytes, over the 1 MiB limit ({MAX_PAYLOAD_BYTES})", "too_large")
    try:
        # orjson refuses NaN and Infinity, and numbers that overflow to infinity (1e400).
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        value = _decode_after_bom(raw, error)
    if type(value) is not dict:
        raise InvalidRecord(f"value is {_json_type(value)}, want a JSON object", "not_object")
    check_depth(raw, value)
    return value


def check_depth(raw: bytes, value: object) -> None:
    """Refuse JSON nested deeper than `MAX_DEPTH`. Counting brackets clears nearly every record
    at C speed; for the rest (batches), orjson's writer is the cheapest exact test there is."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return
    try:
        orjson.dumps(value)
    except orjson.JSONEncodeError as error:
        raise InvalidRecord(f"value nests deeper than {MAX_DEPTH} levels of arrays and objects",
                            "too_deep") from error


def _decode_after_bom(raw: bytes, error: orjson.JSONDecodeError) -> Any:
    # RFC 8259 lets a parser ignore a UTF-8 byte order mark, and Python's json (the reference
    # checker's) does; orjson refuses it. Tried only after a failure: the hot path pays nothing.
    if raw.startswith(_UTF8_BOM):
        try:
            return orjson.loads(raw[len(_UTF8_BOM) :])
        except orjson.JSONDecodeError as retry_error:
            error = retry_error
    raise InvalidRecord(f"value is not JSON ({error})", "not_json") from error


def parse_time_ms(value: object, field: str) -> int:
    """A time with an offset -> whole ms since the epoch.

    Accepts RFC 3339 and the other ISO 8601 forms `datetime.fromisoformat` reads (no seconds,
    basic format), as the reference checker does; refuses a time without an offset or `Z`,
    which names no instant.
    """
    if type(value) is not str:
        raise wrong_type(field, value, "an RFC 3339 time string")
    ms = _instant_ms(value)
    if type(ms) is int:
        return ms
    if ms == "no offset":
        raise InvalidRecord(f"{field} is {shown(value)}, a time needs an offset or Z", "bad_time")
    raise InvalidRecord(f"{field} is {shown(value)}, not an RFC 3339 time", "bad_time")


@functools.lru_cache(maxsize=16_384)
def _instant_ms(value: str) -> int | str:
    """ms since the epoch, or what is wrong. Cached: the reports of one feed poll share a few
    times, and parsing one is the dearest field check of a report."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return "not a time"
    if moment.tzinfo is None:
        return "no offset"
    # Integer arithmetic: timestamp() goes through a float and can land 1 ms short.
    return (moment - _EPOCH) // _ONE_MS


@dataclass(frozen=True, slots=True)
class IntRule:
    """What an integer field may hold; `noun` names it in reasons ("counts must be >= 0")."""

    noun: str
    low: int
    high: float  # a float so that a rule can be unbounded
    kind: str

    def take(self, obj: Mapping[str, Any], name: str, label: str = "") -> int:
        """`obj[name]`; `label` prefixes the field's name in a reason (`county_expected.`)."""
        value = obj.get(name)
        if type(value) is int and self.low <= value <= self.high:
            return value
        raise missing(obj, name, label) or self.error(label + name, value)

    def take_if_present(self, obj: Mapping[str, Any], name: str) -> int | None:
        """`obj[name]` when the field is there; null is not "absent" (see contract.py)."""
        return self.take(obj, name) if name in obj else None

    def error(self, field: str, value: object) -> InvalidRecord:
        if type(value) is int:
            return InvalidRecord(f"{field} is {value}, {self.noun} must be {self.bound(value)}", self.kind)
        if type(value) is float and not self.low <= value <= self.high:
            # An integer past 2^64 reaches us as a float (orjson's reading of it): say the range, not "integers".
            return InvalidRecord(f"{field} is {shown(value)}, {self.noun} must be {self.bound(value)}", self.kind)
        if type(value) is float:
            # 1.0 included: an integer-valued float is how a producer's rounding bug looks.
            return InvalidRecord(f"{field} is {shown(value)}, {self.noun} must be written as integers", self.kind)
        return wrong_type(field, value, f"an integer ({self.noun})")

    def bound(self, value: float) -> str:
        if value < self.low:
            return f">= {self.low}"
        return f"<= 2^53 ({MAX_COUNT})" if self.high == MAX_COUNT else f"<= 2^63-1 ({MAX_SEQ})"


COUNT = IntRule("counts", 0, MAX_COUNT, "bad_count")
EXPECTED = IntRule("expected votes", 1, MAX_COUNT, "bad_count")
SEQ = IntRule("seq numbers", 0, MAX_SEQ, "bad_seq")  # a version, not a count: past 2^53, up to a long


def expect_schema(obj: Mapping[str, Any], schema: str) -> None:
    if obj.get("schema") != schema:
        raise missing(obj, "schema") or InvalidRecord(
            f"schema is {shown(obj['schema'])}, want {schema!r}", "unknown_schema"
        )


def take_id(obj: Mapping[str, Any], name: str, label: str = "") -> str:
    value = obj.get(name)
    if type(value) is str and value and len(value) <= MAX_ID_CHARS:
        return value
    if value == "":
        raise InvalidRecord(f"{label}{name} is empty", "empty_id")
    if type(value) is str:
        raise too_long(label + name, value, MAX_ID_CHARS)
    raise missing(obj, name, label) or wrong_type(label + name, value, "a non-empty string")


def take_string(obj: Mapping[str, Any], name: str, label: str = "") -> str:
    value = obj.get(name)
    if type(value) is str and len(value) <= MAX_TEXT_CHARS:
        return value
    if type(value) is str:
        raise too_long(label + name, value, MAX_TEXT_CHARS)
    raise missing(obj, name, label) or wrong_type(label + name, value, "a string")


def too_long(field: str, value: str, limit: int) -> InvalidRecord:
    return InvalidRecord(f"{field} is {len(value)} characters ({shown(value)}), at most {limit}", "too_long")


def check_entries(field: str, items: Sized, limit: int = MAX_ENTRIES) -> None:
    """Refuse a list or object of more than `limit` entries."""
    if len(items) > limit:
        raise InvalidRecord(f"{field} has {len(items)} entries, at most {limit}", "too_many")


def take_flag(obj: Mapping[str, Any], name: str) -> bool:
    value = obj.get(name)
    if type(value) is bool:
        return value
    raise missing(obj, name) or wrong_type(name, value, "true or false")


def take_time(obj: Mapping[str, Any], name: str) -> tuple[str, int]:
    """The time as sent, and the same instant in ms since the epoch."""
    value = obj.get(name)
    if value is None:
        raise missing(obj, name) or wrong_type(name, value, "an RFC 3339 time string")
    return value, parse_time_ms(value, name)


def take_list(obj: Mapping[str, Any], name: str) -> list[Any]:
    value = obj.get(name)
    if type(value) is list:
        return value
    raise missing(obj, name) or wrong_type(name, value, "a list")


def take_votes(obj: Mapping[str, Any]) -> dict[str, int]:
    """`obj["votes"]` itself, not a copy (the hot path), once every count is good."""
    votes = obj.get("votes")
    if type(votes) is not dict:
        raise missing(obj, "votes") or wrong_type("votes", votes, "an object of {candidate_id: count}")
    check_entries("votes", votes)
    for candidate_id, count in votes.items():
        if type(count) is not int or not 0 <= count <= MAX_COUNT or not 0 < len(candidate_id) <= MAX_ID_CHARS:
            raise _vote_error(candidate_id, count)
    return votes


def _vote_error(candidate_id: str, count: object) -> InvalidRecord:
    if not candidate_id:
        return InvalidRecord("votes has an empty candidate_id", "empty_id")
    if len(candidate_id) > MAX_ID_CHARS:
        return too_long("a candidate_id in votes", candidate_id, MAX_ID_CHARS)
    return COUNT.error(f"votes.{candidate_id}", count)


def missing(obj: Mapping[str, Any], name: str, label: str = "") -> InvalidRecord | None:
    """The error for an absent field, or None when it is there (and merely wrong)."""
    return None if name in obj else InvalidRecord(f"{label}{name} is missing", "missing_field")


def wrong_type(field: str, value: object, want: str) -> InvalidRecord:
    return InvalidRecord(f"{field} is {shown(value)} ({_json_type(value)}), want {want}", "wrong_type")


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def shown(value: object) -> str:
    """The value as JSON, cut short: a reason stays one readable line whatever was sent."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError:  # parse_* may be handed values JSON cannot hold, or nested past orjson's writer
        text = _json_type(value) if isinstance(value, list | dict) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
