"""Decoding the three input messages: every dead-letter rule of the contract, and good records."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.contract import (
    MAX_COUNT,
    MAX_PAYLOAD_BYTES,
    Candidate,
    PrecinctReport,
    PreviousResult,
    decode_expected_vote,
    decode_object,
    decode_precinct_record,
    decode_race_definition,
    parse_time_ms,
)
from streams.contract.messages import (
    parse_expected_vote,
    parse_precinct_report,
    parse_race_definition,
)
from streams.errors import InvalidRecord

NOV_5_2024_8PM_UTC_MS = 1_730_836_800_000


def decode_report(raw: bytes | None) -> PrecinctReport:
    """One `precinct-result/1` through the decoder the worker uses: a record of one report."""
    [report] = decode_precinct_record(raw).reports
    return report


def precinct(**changes: Any) -> dict[str, Any]:
    """A good precinct-result/1 value, with `changes` applied (a value of ... removes the field)."""
    value = {
        "schema": "precinct-result/1",
        "election_id": "2024-11-05",
        "race_id": "president",
        "state": "CA",
        "county_fips": "06037",
        "precinct_id": "06037-0001",
        "seq": 3,
        "reported_at": "2024-11-05T20:00:00Z",
        "votes": {"harris": 120, "trump": 80},
        "complete": False,
    }
    return _changed(value, changes)


def expected_vote(**changes: Any) -> dict[str, Any]:
    value = {
        "schema": "expected-vote/1",
        "election_id": "2024-11-05",
        "race_id": "president",
        "state": "CA",
        "expected_votes": 16_000_000,
        "county_expected": {"06037": 3_800_000, "06073": 1_500_000},
        "seq": 2,
        "issued_at": "2024-11-05T20:00:00-08:00",
    }
    return _changed(value, changes)


def race_definition(**changes: Any) -> dict[str, Any]:
    value = {
        "schema": "race-definition/1",
        "election_id": "2024-11-05",
        "race_id": "president",
        "state": "CA",
        "office": "U.S. President",
        "candidates": [
            {"candidate_id": "harris", "name": "Kamala D. Harris", "party": "DEM", "short_name": "Harris"},
            {"candidate_id": "trump", "name": "Donald J. Trump", "party": "REP"},
        ],
        "precincts_total": 21_000,
        "polls_close": "2024-11-05T20:00:00-08:00",
        "certified": False,
        "previous": [{"election_id": "2020-11-03", "shares": {"DEM": 63.5, "REP": 34}}],
    }
    return _changed(value, changes)


def _changed(value: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for name, new in changes.items():
        if new is ...:
            value.pop(name, None)
        else:
            value[name] = new
    return value


def encoded(value: object) -> bytes:
    return orjson.dumps(value)


# --- decode_object: the bytes ------------------------------------------------------------


def test_a_payload_of_exactly_1_mib_is_accepted_and_one_byte_more_is_too_large() -> None:
    frame = b'{"padding":""}'
    exactly = frame[:-2] + b"x" * (MAX_PAYLOAD_BYTES - len(frame)) + b'"}'
    assert len(exactly) == MAX_PAYLOAD_BYTES
    assert decode_object(exactly)["padding"].startswith("x")

    with pytest.raises(InvalidRecord, match=r"value is 1048577 bytes, over the 1 MiB limit") as caught:
        decode_object(exactly[:-2] + b'x"}')
    assert caught.value.kind == "too_large"


@pytest.mark.parametrize("raw", [b"", b"{", b"{'a': 1}", b'{"a": 01}', b"\xff\xfe", b'{"a": "\xff"}'])
def test_bytes_that_are_not_json_are_refused(raw: bytes) -> None:
    with pytest.raises(InvalidRecord, match="value is not JSON") as caught:
        decode_object(raw)
    assert caught.value.kind == "not_json"


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_nan_and_infinity_are_not_json(literal: bytes) -> None:
    raw = b'{"votes": {"harris": ' + literal + b"}}"
    # The rule rests on orjson refusing these literals, unlike Python's json; check it still does.
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(raw)
    with pytest.raises(InvalidRecord) as caught:
        decode_object(raw)
    assert caught.value.kind == "not_json"


@pytest.mark.parametrize(("raw", "what"), [(b"[1, 2]", "an array"), (b'"x"', "a string"), (b"7", "a number"),
                                           (b"null", "null"), (b"true", "a boolean")])
def test_json_that_is_not_an_object_is_refused(raw: bytes, what: str) -> None:
    with pytest.raises(InvalidRecord, match=f"value is {what}, want a JSON object") as caught:
        decode_object(raw)
    assert caught.value.kind == "not_object"


def test_a_tombstone_is_refused_not_crashed_on() -> None:
    with pytest.raises(InvalidRecord, match="tombstone"):
        decode_report(None)


def test_a_utf8_byte_order_mark_is_ignored_as_rfc_8259_allows() -> None:
    assert decode_report(b"\xef\xbb\xbf" + encoded(precinct())).precinct_id == "06037-0001"


# --- precinct-result/1 -------------------------------------------------------------------


def test_a_good_precinct_report_decodes_to_its_values() -> None:
    report = decode_report(encoded(precinct()))

    assert report.key == "2024-11-05/president/CA"
    assert (report.county_fips, report.precinct_id, report.seq) == ("06037", "06037-0001", 3)
    assert (report.reported_at, report.reported_ms) == ("2024-11-05T20:00:00Z", NOV_5_2024_8PM_UTC_MS)
    assert report.votes == {"harris": 120, "trump": 80}
    assert (report.complete, report.mode) == (False, "live")
    assert (report.precincts_reporting, report.precincts_total, report.registered_voters) == (None, None, None)


def test_unknown_fields_are_ignored() -> None:
    report = decode_report(encoded(precinct(turnout_note="high", source={"feed": "ap", "v": [1.5, None]})))
    assert report.votes == {"harris": 120, "trump": 80}


def test_mode_defaults_to_live_and_test_is_kept() -> None:
    assert decode_report(encoded(precinct(mode=...))).mode == "live"
    assert decode_report(encoded(precinct(mode="live"))).mode == "live"
    assert decode_report(encoded(precinct(mode="test"))).mode == "test"


def test_a_county_unit_carries_its_precinct_counts() -> None:
    report = decode_report(encoded(precinct(precincts_reporting=40, precincts_total=52,
                                                     registered_voters=91_000, complete=True)))
    assert (report.precincts_reporting, report.precincts_total, report.registered_voters) == (40, 52, 91_000)
    assert report.reporting == 40


@pytest.mark.parametrize(
    "changes",
    [
        {"votes": {}},  # a unit with no candidates on its ballot yet
        {"votes": {"harris": 0, "trump": MAX_COUNT}},  # 2^53 itself is allowed, only above is not
        {"seq": 0},
        {"seq": 2**60},  # a version, not a count: no 2^53 cap
        {"county_fips": "6037"},  # 5 digits expected, not enforced (see contract.py)
        {"state": " "},  # not empty
        {"reported_at": "2024-11-05T12:00:00.123456-08:00"},
    ],
)
def test_good_edge_values_are_accepted(changes: dict[str, Any]) -> None:
    decode_report(encoded(precinct(**changes)))


@pytest.mark.parametrize(
    ("changes", "kind", "reason"),
    [
        ({"schema": ...}, "missing_field", "schema is missing"),
        ({"schema": "precinct-result/2"}, "unknown_schema", "schema is \"precinct-result/2\", want 'precinct-"),
        ({"schema": "expected-vote/1"}, "unknown_schema", "want 'precinct-result/1'"),
        ({"precinct_id": ...}, "missing_field", "precinct_id is missing"),
        ({"votes": ...}, "missing_field", "votes is missing"),
        ({"complete": ...}, "missing_field", "complete is missing"),
        ({"reported_at": ...}, "missing_field", "reported_at is missing"),
        ({"seq": ...}, "missing_field", "seq is missing"),
        ({"election_id": ""}, "empty_id", "election_id is empty"),
        ({"race_id": ""}, "empty_id", "race_id is empty"),
        ({"state": ""}, "empty_id", "state is empty"),
        ({"county_fips": ""}, "empty_id", "county_fips is empty"),
        ({"precinct_id": ""}, "empty_id", "precinct_id is empty"),
        ({"votes": {"": 5}}, "empty_id", "votes has an empty candidate_id"),
        ({"precinct_id": 17}, "wrong_type", "precinct_id is 17 (a number), want a non-empty string"),
        ({"state": None}, "wrong_type", "state is null (null), want a non-empty string"),
        ({"votes": [120, 80]}, "wrong_type", "votes is [120,80] (an array)"),
        ({"complete": "yes"}, "wrong_type", 'complete is "yes" (a string), want true or false'),
        ({"complete": 1}, "wrong_type", "complete is 1 (a number), want true or false"),
        ({"votes": {"harris": -5}}, "bad_count", "votes.harris is -5, counts must be >= 0"),
        ({"votes": {"harris": 12.5}}, "bad_count", "votes.harris is 12.5, counts must be written as integers"),
        ({"votes": {"harris": 12.0}}, "bad_count", "votes.harris is 12.0, counts must be written as integers"),
        ({"votes": {"harris": "12"}}, "wrong_type", 'votes.harris is "12" (a string), want an integer (counts)'),
        ({"votes": {"harris": True}}, "wrong_type", "votes.harris is true (a boolean), want an integer (counts)"),
        ({"votes": {"harris": None}}, "wrong_type", "votes.harris is null (null)"),
        ({"votes": {"harris": MAX_COUNT + 1}}, "bad_count", "votes.harris is 9007199254740993, counts must be <= 2^53"),
        ({"seq": -1}, "bad_seq", "seq is -1, seq numbers must be >= 0"),
        ({"seq": 3.0}, "bad_seq", "seq is 3.0, seq numbers must be written as integers"),
        ({"seq": "3"}, "wrong_type", 'seq is "3" (a string)'),
        ({"seq": False}, "wrong_type", "seq is false (a boolean)"),
        ({"mode": "preview"}, "bad_mode", "mode is \"preview\", want 'live' or 'test'"),
        ({"mode": "LIVE"}, "bad_mode", "mode is \"LIVE\""),
        ({"mode": None}, "bad_mode", "mode is null"),
        ({"reported_at": "2024-11-05T20:00:00"}, "bad_time", "a time needs an offset or Z"),
        ({"reported_at": "2024-11-05"}, "bad_time", "a time needs an offset or Z"),
        ({"reported_at": "2024-13-05T20:00:00Z"}, "bad_time", 'reported_at is "2024-13-05T20:00:00Z", not an RFC'),
        ({"reported_at": "yesterday"}, "bad_time", "not an RFC 3339 time"),
        ({"reported_at": 1730836800000}, "wrong_type", "reported_at is 1730836800000 (a number), want an RFC 3339"),
        ({"reported_at": None}, "wrong_type", "reported_at is null (null)"),
        # Optional counts may be absent, not null: the reference checker dead-letters null too.
        ({"precincts_reporting": None}, "wrong_type", "precincts_reporting is null (null)"),
        ({"precincts_total": -1}, "bad_count", "precincts_total is -1, counts must be >= 0"),
        ({"registered_voters": 1.5}, "bad_count", "registered_voters is 1.5"),
        ({"registered_voters": MAX_COUNT + 1}, "bad_count", "registered_voters is 9007199254740993"),
    ],
)
def test_a_precinct_report_breaking_a_rule_is_refused_with_a_reason(
    changes: dict[str, Any], kind: str, reason: str
) -> None:
    with pytest.raises(InvalidRecord) as caught:
        decode_report(encoded(precinct(**changes)))
    assert caught.value.kind == kind
    assert reason in caught.value.reason


def test_a_reason_cuts_a_long_value_short() -> None:
    with pytest.raises(InvalidRecord) as caught:
        decode_report(encoded(precinct(precinct_id=["x" * 500])))
    assert caught.value.reason.startswith('precinct_id is ["xxx')
    assert len(caught.value.reason) < 120


def test_parse_accepts_any_mapping_and_keeps_the_votes_uncopied() -> None:
    value = precinct()
    assert parse_precinct_report(value).votes is value["votes"]


# --- expected-vote/1 ---------------------------------------------------------------------


def test_a_good_expected_vote_decodes() -> None:
    estimate = decode_expected_vote(encoded(expected_vote(note="ignored")))

    assert estimate.key == "2024-11-05/president/CA"
    assert (estimate.expected_votes, estimate.seq) == (16_000_000, 2)
    assert estimate.county_expected == {"06037": 3_800_000, "06073": 1_500_000}
    assert estimate.issued_ms == NOV_5_2024_8PM_UTC_MS + 8 * 3600 * 1000


def test_an_expected_vote_may_be_null_and_the_county_estimates_absent_or_null() -> None:
    assert parse_expected_vote(expected_vote(expected_votes=None)).expected_votes is None
    assert parse_expected_vote(expected_vote(county_expected=...)).county_expected == {}
    assert parse_expected_vote(expected_vote(county_expected=None)).county_expected == {}


@pytest.mark.parametrize(
    ("changes", "kind", "reason"),
    [
        ({"schema": "race-definition/1"}, "unknown_schema", "want 'expected-vote/1'"),
        ({"expected_votes": ...}, "missing_field", "expected_votes is missing"),
        ({"expected_votes": 0}, "bad_count", "expected_votes is 0, expected votes must be >= 1"),
        ({"expected_votes": -10}, "bad_count", "expected_votes is -10"),
        ({"expected_votes": 1e6}, "bad_count", "expected_votes is 1000000.0"),
        ({"expected_votes": MAX_COUNT + 1}, "bad_count", "must be <= 2^53"),
        ({"county_expected": {"06037": 0}}, "bad_count", "county_expected.06037 is 0"),
        ({"county_expected": {"06037": "many"}}, "wrong_type", 'county_expected.06037 is "many"'),
        ({"county_expected": {"": 5}}, "empty_id", "county_expected has an empty county_fips"),
        ({"county_expected": [5]}, "wrong_type", "county_expected is [5] (an array)"),
        ({"seq": ...}, "missing_field", "seq is missing"),
        ({"seq": True}, "wrong_type", "seq is true (a boolean)"),
        ({"issued_at": "2024-11-05 20:00"}, "bad_time", "a time needs an offset or Z"),
        ({"state": ""}, "empty_id", "state is empty"),
    ],
)
def test_an_expected_vote_breaking_a_rule_is_refused(changes: dict[str, Any], kind: str, reason: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        decode_expected_vote(encoded(expected_vote(**changes)))
    assert caught.value.kind == kind
    assert reason in caught.value.reason


# --- race-definition/1 -------------------------------------------------------------------


def test_a_good_race_definition_decodes() -> None:
    race = decode_race_definition(encoded(race_definition(color="blue")))

    assert race.key == "2024-11-05/president/CA"
    assert race.candidates == (
        Candidate("harris", "Kamala D. Harris", "DEM", "Harris"),
        Candidate("trump", "Donald J. Trump", "REP", None),
    )
    assert (race.office, race.precincts_total, race.certified, race.revision) == ("U.S. President", 21_000, False, 0)
    assert race.polls_close_ms == NOV_5_2024_8PM_UTC_MS + 8 * 3600 * 1000
    assert race.previous == (PreviousResult("2020-11-03", {"DEM": 63.5, "REP": 34.0}),)


def test_previous_results_are_optional() -> None:
    assert parse_race_definition(race_definition(previous=...)).previous == ()
    assert parse_race_definition(race_definition(previous=None)).previous == ()


@pytest.mark.parametrize(
    ("changes", "kind", "reason"),
    [
        ({"schema": "race-definition/0"}, "unknown_schema", "want 'race-definition/1'"),
        ({"candidates": ...}, "missing_field", "candidates is missing"),
        ({"candidates": {"harris": {}}}, "wrong_type", "candidates is"),
        ({"candidates": ["harris"]}, "wrong_type", 'candidates[0] is "harris" (a string), want an object'),
        ({"candidates": [{"name": "Kamala Harris", "party": "DEM"}]}, "missing_field",
         "candidates[0].candidate_id is missing"),
        ({"candidates": [{"candidate_id": "", "name": "K H", "party": "DEM"}]}, "empty_id",
         "candidates[0].candidate_id is empty"),
        ({"candidates": [{"candidate_id": "h", "name": "  ", "party": "DEM"}]}, "empty_name",
         'candidates[0].name is "  ", a name must not be blank'),
        ({"candidates": [{"candidate_id": "h", "name": "K H", "party": None}]}, "wrong_type",
         "candidates[0].party is null"),
        ({"candidates": [{"candidate_id": "h", "name": "K H", "party": "D", "short_name": 1}]}, "wrong_type",
         "candidates[0].short_name is 1"),
        ({"candidates": [{"candidate_id": "h", "name": "A", "party": "D"}] * 2}, "duplicate_id",
         "candidates has 'h' twice"),
        ({"precincts_total": -1}, "bad_count", "precincts_total is -1, counts must be >= 0"),
        ({"precincts_total": None}, "wrong_type", "precincts_total is null"),
        ({"polls_close": "2024-11-05T20:00:00"}, "bad_time", "polls_close is \"2024-11-05T20:00:00\", a time needs"),
        ({"certified": "no"}, "wrong_type", 'certified is "no" (a string), want true or false'),
        ({"office": ...}, "missing_field", "office is missing"),
        ({"previous": {"DEM": 60}}, "wrong_type", "previous is"),
        ({"previous": [{"election_id": "2020-11-03"}]}, "missing_field", "previous[0].shares is missing"),
        ({"previous": [{"election_id": "2020", "shares": {"DEM": 101}}]}, "bad_percent",
         "previous[0].shares.DEM is 101, a percent must be between 0 and 100"),
        ({"previous": [{"election_id": "2020", "shares": {"DEM": True}}]}, "wrong_type",
         "previous[0].shares.DEM is true (a boolean)"),
    ],
)
def test_a_race_definition_breaking_a_rule_is_refused(changes: dict[str, Any], kind: str, reason: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        decode_race_definition(encoded(race_definition(**changes)))
    assert caught.value.kind == kind
    assert reason in caught.value.reason


# --- times -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2024-11-05T20:00:00Z", NOV_5_2024_8PM_UTC_MS),
        ("2024-11-05T20:00:00+00:00", NOV_5_2024_8PM_UTC_MS),
        ("2024-11-05T12:00:00-08:00", NOV_5_2024_8PM_UTC_MS),
        ("2024-11-06T01:30:00+05:30", NOV_5_2024_8PM_UTC_MS),
        ("2024-11-05T20:00:00.123Z", NOV_5_2024_8PM_UTC_MS + 123),
        ("2024-11-05T20:00:00.1239Z", NOV_5_2024_8PM_UTC_MS + 123),  # whole ms, truncated
        ("1969-12-31T23:59:59.999Z", -1),
    ],
)
def test_times_become_exact_ms_since_the_epoch(text: str, ms: int) -> None:
    assert parse_time_ms(text, "at") == ms


@pytest.mark.parametrize("text", ["2024-11-05T20:00:00", "2024-11-05", "2024-11-05T20:00:00z", "2024-02-30T00:00:00Z",
                                  "2024-11-05T25:00:00Z", "", "now"])
def test_a_time_without_an_offset_or_not_a_time_is_refused(text: str) -> None:
    with pytest.raises(InvalidRecord, match=r"^at is ") as caught:
        parse_time_ms(text, "at")
    assert caught.value.kind == "bad_time"


# --- whatever arrives, the answer is a message or InvalidRecord ----------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.floats(allow_nan=False,
    allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


def refusal(decode: Callable[[bytes], object], raw: bytes) -> InvalidRecord | None:
    """The error `decode` raises for `raw`, or None when it decodes; anything else propagates."""
    try:
        decode(raw)
    except InvalidRecord as error:
        return error
    return None


@given(field=st.sampled_from([*sorted(precinct()), "mode", "precincts_total"]), value=json_values)
def test_any_value_in_any_field_decodes_or_is_refused_never_crashes(field: str, value: object) -> None:
    error = refusal(decode_report, encoded(precinct(**{field: value})))
    if error is not None:
        assert error.kind
        assert error.reason.startswith(field)  # the reason names the field


@given(raw=st.binary(max_size=64))
def test_any_bytes_decode_or_are_refused_never_crash(raw: bytes) -> None:
    for decode in (decode_report, decode_expected_vote, decode_race_definition):
        refusal(decode, raw)
