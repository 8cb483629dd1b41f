"""Decoding `precinct-results` records: a single report, or a `precinct-batch/1` (docs/CONTRACT.md).

A batch that breaks a batch rule is refused whole (`InvalidRecord`); otherwise each element is
judged alone, exactly as if it had come as a single report carrying the batch's
`election_id, race_id, state, mode`: a bad element becomes a `RefusedElement` (its index, its
compact JSON, a reason naming `reports[i]`) and the others are decoded in list order.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.contract import MAX_COUNT, MAX_PAYLOAD_BYTES, PrecinctRecord, PrecinctReport, decode_precinct_record
from streams.contract.messages import parse_precinct_batch, parse_precinct_report
from streams.contract.validation import MAX_SEQ
from streams.errors import InvalidRecord
from tests.unit.test_contract import _changed, json_values, precinct

ENVELOPE = {"election_id": "2024-11-05", "race_id": "president", "state": "CA"}


def element(number: int = 1, **changes: Any) -> dict[str, Any]:
    """A good batch element (a report without the batch's fields), `changes` applied."""
    value = {"county_fips": "06037", "precinct_id": f"06037-{number:04d}", "seq": number,
             "reported_at": "2024-11-05T20:00:00Z", "votes": {"harris": 100 + number, "trump": 80}, "complete": False}
    return _changed(value, changes)


def batch(*elements: object, **changes: Any) -> dict[str, Any]:
    """A `precinct-batch/1` of `elements` (three good ones by default), `changes` applied."""
    items = list(elements) if elements else [element(1), element(2), element(3)]
    return _changed({"schema": "precinct-batch/1", **ENVELOPE, "reports": items}, changes)


def decoded(value: object) -> PrecinctRecord:
    return decode_precinct_record(orjson.dumps(value))


def as_single(item: dict[str, Any], mode: str = "live") -> PrecinctReport:
    """What an element decodes to when sent alone with the batch's fields."""
    return parse_precinct_report({"schema": "precinct-result/1", **ENVELOPE, "mode": mode, **item})


# --- a single report, and a good batch ---------------------------------------------------


def test_a_single_report_is_a_record_of_one_report() -> None:
    record = decoded(precinct())
    assert record == PrecinctRecord("2024-11-05/CA", [parse_precinct_report(precinct())], [])


def test_a_single_report_breaking_a_rule_is_refused_whole() -> None:
    with pytest.raises(InvalidRecord) as caught:
        decoded(precinct(seq=-1))
    assert caught.value.kind == "bad_seq"


def test_a_good_batch_gives_its_reports_in_list_order_with_the_batch_fields() -> None:
    record = decoded(batch(element(3), element(1), element(2)))
    assert record.key == "2024-11-05/CA"  # the state key (design rule 3)
    assert record.refused == []
    assert [r.precinct_id for r in record.reports] == ["06037-0003", "06037-0001", "06037-0002"]
    assert all((r.election_id, r.race_id, r.state, r.mode) == ("2024-11-05", "president", "CA", "live")
               for r in record.reports)


def test_the_batch_mode_is_every_reports_mode() -> None:
    record = decoded(batch(element(1), element(2, mode="test"), mode="test"))
    assert [r.mode for r in record.reports] == ["test", "test"]


def test_an_element_may_repeat_the_batch_fields_and_schema_when_they_agree() -> None:
    repeated = element(1, schema="precinct-result/1", **ENVELOPE, mode="live")
    assert decoded(batch(repeated)).reports == [as_single(element(1))]


def test_unknown_fields_of_the_batch_and_of_an_element_are_ignored() -> None:
    record = decoded(batch(element(1, note="x"), feed={"poll": 7}))
    assert record.reports == [as_single(element(1))]


def test_parse_precinct_batch_takes_a_mapping() -> None:
    assert parse_precinct_batch(batch()) == decoded(batch())


# --- the batch itself breaks a rule: the whole record is a dead letter -------------------


@pytest.mark.parametrize(
    ("changes", "kind", "reason"),
    [
        ({"election_id": ...}, "missing_field", "election_id is missing"),
        ({"election_id": ""}, "empty_id", "election_id is empty"),
        ({"election_id": 2024}, "wrong_type", "election_id is 2024 (a number)"),
        ({"race_id": ...}, "missing_field", "race_id is missing"),
        ({"race_id": ""}, "empty_id", "race_id is empty"),
        ({"race_id": None}, "wrong_type", "race_id is null"),
        ({"state": ...}, "missing_field", "state is missing"),
        ({"state": ""}, "empty_id", "state is empty"),
        ({"state": ["CA"]}, "wrong_type", 'state is ["CA"] (an array)'),
        ({"mode": "preview"}, "bad_mode", "mode is \"preview\", want 'live' or 'test'"),
        ({"mode": None}, "bad_mode", "mode is null"),
        ({"reports": ...}, "missing_field", "reports is missing"),
        ({"reports": []}, "empty_batch", "reports is empty"),
        ({"reports": None}, "wrong_type", "reports is null (null), want a list"),
        ({"reports": {"0": {}}}, "wrong_type", "reports is {"),
        ({"reports": "[]"}, "wrong_type", 'reports is "[]" (a string)'),
    ],
)
def test_a_batch_breaking_a_batch_rule_is_refused_whole(changes: dict[str, Any], kind: str, reason: str) -> None:
    assert_refused_whole(batch(**changes), kind, reason)


def assert_refused_whole(value: object, kind: str, reason: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        decoded(value)
    assert caught.value.kind == kind
    assert caught.value.reason.startswith(reason)


@pytest.mark.parametrize(("raw", "kind"), [
    (b'{"schema": "precinct-batch/1", "reports": [', "not_json"),
    (b'[{"schema": "precinct-batch/1"}]', "not_object"),
    (None, "not_json"),  # a tombstone
])
def test_a_record_that_is_no_json_object_is_refused_whole(raw: bytes | None, kind: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        decode_precinct_record(raw)
    assert caught.value.kind == kind


def test_a_batch_of_exactly_1_mib_is_decoded_and_one_byte_more_is_refused_whole() -> None:
    frame = orjson.dumps(batch(element(1, note="")))
    exactly = frame.replace(b'"note":""', b'"note":"' + b"x" * (MAX_PAYLOAD_BYTES - len(frame)) + b'"')
    assert len(exactly) == MAX_PAYLOAD_BYTES
    assert len(decode_precinct_record(exactly).reports) == 1

    with pytest.raises(InvalidRecord) as caught:
        decode_precinct_record(exactly.replace(b'"note":"', b'"note":"x'))
    assert caught.value.kind == "too_large"


# --- one element breaks a rule: that element alone is a dead letter ----------------------


ELEMENT_RULES = [
    # not an object
    (7, "wrong_type", "the element is 7 (a number), want an object"),
    (None, "wrong_type", "the element is null (null)"),
    ([element(2)], "wrong_type", "the element is [{"),
    ("06037-0002", "wrong_type", 'the element is "06037-0002" (a string)'),
    # the rules of precinct-result/1, one per field
    (element(2, county_fips=...), "missing_field", "county_fips is missing"),
    (element(2, county_fips=""), "empty_id", "county_fips is empty"),
    (element(2, precinct_id=...), "missing_field", "precinct_id is missing"),
    (element(2, precinct_id=17), "wrong_type", "precinct_id is 17 (a number)"),
    (element(2, seq=...), "missing_field", "seq is missing"),
    (element(2, seq=-1), "bad_seq", "seq is -1, seq numbers must be >= 0"),
    (element(2, seq=2.0), "bad_seq", "seq is 2.0, seq numbers must be written as integers"),
    (element(2, reported_at=...), "missing_field", "reported_at is missing"),
    (element(2, reported_at="2024-11-05T20:00:00"), "bad_time", "reported_at is \"2024-11-05T20:00:00\", a time"),
    (element(2, reported_at=1730836800000), "wrong_type", "reported_at is 1730836800000 (a number)"),
    (element(2, votes=...), "missing_field", "votes is missing"),
    (element(2, votes=[1, 2]), "wrong_type", "votes is [1,2] (an array)"),
    (element(2, votes={"harris": -5}), "bad_count", "votes.harris is -5, counts must be >= 0"),
    (element(2, votes={"harris": MAX_COUNT + 1}), "bad_count", "votes.harris is 9007199254740993"),
    (element(2, votes={"harris": 1.5}), "bad_count", "votes.harris is 1.5"),
    (element(2, votes={"": 5}), "empty_id", "votes has an empty candidate_id"),
    (element(2, complete=...), "missing_field", "complete is missing"),
    (element(2, complete="yes"), "wrong_type", 'complete is "yes" (a string)'),
    (element(2, precincts_reporting=None), "wrong_type", "precincts_reporting is null"),
    (element(2, precincts_total=-1), "bad_count", "precincts_total is -1"),
    (element(2, registered_voters="many"), "wrong_type", 'registered_voters is "many"'),
    # disagreeing with its batch
    (element(2, election_id="2024-11-06"), "batch_mismatch", "election_id is \"2024-11-06\", but the batch's is"),
    (element(2, race_id="senate"), "batch_mismatch", "race_id is \"senate\", but the batch's is 'president'"),
    (element(2, state="NV"), "batch_mismatch", "state is \"NV\", but the batch's is 'CA'"),
    (element(2, state=""), "batch_mismatch", "state is \"\", but the batch's is 'CA'"),
    (element(2, mode="test"), "batch_mismatch", "mode is \"test\", but the batch's is 'live'"),
    (element(2, mode=None), "batch_mismatch", "mode is null, but the batch's is 'live'"),
    # another message
    (element(2, schema="precinct-result/2"), "unknown_schema", "schema is \"precinct-result/2\""),
    (element(2, schema="precinct-batch/1"), "unknown_schema", "schema is \"precinct-batch/1\""),
    (element(2, schema=None), "unknown_schema", "schema is null"),
]


@pytest.mark.parametrize(("bad", "kind", "reason"), ELEMENT_RULES)
def test_an_element_breaking_a_rule_is_refused_alone_and_the_others_are_kept_in_order(
        bad: object, kind: str, reason: str) -> None:
    record = decoded(batch(element(1), bad, element(3)))

    assert [r.precinct_id for r in record.reports] == ["06037-0001", "06037-0003"]
    [refused] = record.refused
    assert refused.index == "1"
    assert refused.value == orjson.dumps(bad)
    assert refused.error.kind == kind
    assert refused.error.reason.startswith(f"reports[1]: {reason}")


def test_a_refused_element_is_its_compact_json_whatever_the_spacing_sent() -> None:
    raw = (b'{"schema": "precinct-batch/1", "election_id": "2024-11-05", "race_id": "president",'
           b' "state": "CA", "reports": [ { "precinct_id" : "p",\n "seq" : -1 } ]}')
    [refused] = decode_precinct_record(raw).refused
    assert refused.value == b'{"precinct_id":"p","seq":-1}'


def test_every_element_may_be_refused_and_the_batch_is_still_a_record() -> None:
    record = decoded(batch(1, element(2, seq=-1), element(3, mode="test")))
    assert record.reports == []
    assert [(r.index, r.error.kind) for r in record.refused] == [("0", "wrong_type"), ("1", "bad_seq"),
                                                                  ("2", "batch_mismatch")]


def test_an_element_in_a_test_batch_must_not_say_live() -> None:
    record = decoded(batch(element(1), element(2, mode="live"), mode="test"))
    assert [r.precinct_id for r in record.reports] == ["06037-0001"]
    assert record.refused[0].error.reason.startswith("reports[1]: mode is \"live\", but the batch's is 'test'")


# --- properties ----------------------------------------------------------------------------

counts = st.integers(min_value=0, max_value=MAX_COUNT)
good_elements = st.fixed_dictionaries(
    {"county_fips": st.sampled_from(["06037", "06073", "6001"]),
     "precinct_id": st.text(min_size=1, max_size=6),
     "seq": st.integers(min_value=0, max_value=MAX_SEQ),
     "reported_at": st.sampled_from(["2024-11-05T20:00:00Z", "2024-11-05T12:00:00.5-08:00"]),
     "votes": st.dictionaries(st.text(min_size=1, max_size=5), counts, max_size=4),
     "complete": st.booleans()},
    optional={"precincts_reporting": counts, "precincts_total": counts, "registered_voters": counts,
              "note": st.text(max_size=5)})


@given(items=st.lists(good_elements, min_size=1, max_size=12), mode=st.sampled_from(["live", "test"]))
def test_a_batch_of_good_reports_decodes_to_the_same_reports_as_each_sent_alone(
        items: list[dict[str, Any]], mode: str) -> None:
    record = decoded(batch(*items, mode=mode))
    assert record.refused == []
    assert record.reports == [as_single(item, mode) for item in items]


UNIT_FIELDS = [*sorted(element()), "precincts_reporting", "precincts_total", "registered_voters", "schema"]


@given(field=st.sampled_from(UNIT_FIELDS), value=json_values)
def test_an_element_is_refused_exactly_when_it_would_be_refused_alone(field: str, value: object) -> None:
    item = element(2, **{field: value})
    record = decoded(batch(element(1), item))
    try:
        alone: PrecinctReport | InvalidRecord = as_single(item)
    except InvalidRecord as error:
        alone = error
    if isinstance(alone, InvalidRecord):
        [refused] = record.refused
        assert (refused.index, refused.error.kind) == ("1", alone.kind)
        if field != "schema":  # a batch's element may also leave `schema` out, and its reason says so
            assert refused.error.reason == f"reports[1]: {alone.reason}"
    else:
        assert record.reports[1] == alone
