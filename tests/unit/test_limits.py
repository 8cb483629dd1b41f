"""The decoder's limits, each at the limit (accepted) and just past it (refused with a clear reason).

Payload size, nesting depth, integer range, string lengths and entries per list or object:
what keeps one hostile record from costing more than a dead letter (faults/FUZZING.md).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streams import contract
from streams.contract import recording
from streams.contract.batching import batch_records
from streams.contract.validation import (
    MAX_BATCH_REPORTS,
    MAX_COUNT,
    MAX_DEPTH,
    MAX_ENTRIES,
    MAX_ID_CHARS,
    MAX_PAYLOAD_BYTES,
    MAX_SEQ,
    MAX_TEXT_CHARS,
)
from streams.errors import InvalidRecord

REPORT: dict[str, Any] = {
    "schema": "precinct-result/1", "election_id": "2024-11-05", "race_id": "president", "state": "MN",
    "county_fips": "27053", "precinct_id": "p1", "seq": 1, "reported_at": "2024-11-06T02:10:00Z",
    "votes": {"harris": 10}, "complete": False,
}
DEFINITION: dict[str, Any] = {
    "schema": "race-definition/1", "election_id": "2024-11-05", "race_id": "president", "state": "MN",
    "office": "U.S. President", "precincts_total": 10, "polls_close": "2024-11-06T02:00:00Z", "certified": False,
    "candidates": [{"candidate_id": "harris", "name": "Kamala Harris", "party": "DEM"}],
}
EXPECTED: dict[str, Any] = {
    "schema": "expected-vote/1", "election_id": "2024-11-05", "race_id": "president", "state": "MN",
    "expected_votes": 100, "seq": 1, "issued_at": "2024-11-06T01:00:00Z",
}


def refusal(raw: bytes, decode: Any = contract.decode_precinct_record) -> InvalidRecord:
    with pytest.raises(InvalidRecord) as caught:
        decode(raw)
    return caught.value


def report(**fields: Any) -> bytes:
    return orjson.dumps({**REPORT, **fields})


def padded_to(size: int) -> bytes:
    """A valid report of exactly `size` bytes (an unknown field carries the padding)."""
    bare = len(report(pad=""))
    return report(pad="x" * (size - bare))


def test_payload_of_exactly_1_mib_is_accepted_and_one_byte_more_refused() -> None:
    assert len(padded_to(MAX_PAYLOAD_BYTES)) == MAX_PAYLOAD_BYTES
    assert contract.decode_precinct_record(padded_to(MAX_PAYLOAD_BYTES)).reports[0].precinct_id == "p1"
    error = refusal(padded_to(MAX_PAYLOAD_BYTES + 1))
    assert error.kind == "too_large"
    assert error.reason == f"value is {MAX_PAYLOAD_BYTES + 1} bytes, over the 1 MiB limit ({MAX_PAYLOAD_BYTES})"


def nested_report(depth: int) -> bytes:
    """A report whose unknown field nests lists so that the whole value is `depth` levels deep."""
    raw = report(extra="MARK")
    return raw.replace(b'"MARK"', b"[" * (depth - 1) + b"]" * (depth - 1))


def test_nesting_up_to_the_depth_limit_is_accepted_and_one_level_more_refused() -> None:
    assert contract.decode_precinct_record(nested_report(MAX_DEPTH)).reports[0].seq == 1
    error = refusal(nested_report(MAX_DEPTH + 1))
    assert (error.kind, error.reason) == ("too_deep", "value nests deeper than 254 levels of arrays and objects")


def test_nesting_past_what_orjson_reads_is_a_clear_refusal_too() -> None:
    assert refusal(nested_report(2000)).kind == "not_json"


def test_a_deep_element_of_a_batch_refuses_the_record_whole() -> None:
    """Its dead letter could not be written as compact JSON; the original bytes can."""
    batch = {"schema": "precinct-batch/1", "election_id": "e", "race_id": "r", "state": "MN",
             "reports": [{"county_fips": "1", "precinct_id": "p", "seq": 1, "reported_at": "2024-11-06T02:10:00Z",
                          "votes": "MARK", "complete": True}]}
    raw = orjson.dumps(batch).replace(b'"MARK"', b"[" * 300 + b"]" * 300)
    assert refusal(raw).kind == "too_deep"


@pytest.mark.parametrize(("value", "accepted"), [(MAX_SEQ, True), (MAX_SEQ + 1, False), (0, True), (-1, False)])
def test_seq_range_is_0_to_2_63_minus_1(value: int, accepted: bool) -> None:
    if accepted:
        assert contract.decode_precinct_record(report(seq=value)).reports[0].seq == value
    else:
        error = refusal(report(seq=value))
        assert error.kind == "bad_seq"
        assert f"seq is {value}, seq numbers must be" in error.reason


def test_seq_past_2_64_is_refused_for_its_range_not_as_a_float() -> None:
    """orjson reads an integer past 2^64 as a float: the reason must still say what is wrong."""
    error = refusal(report(seq=0).replace(b'"seq":0', b'"seq":18446744073709551616'))
    assert error.kind == "bad_seq"
    assert error.reason == "seq is 1.8446744073709552e+19, seq numbers must be <= 2^63-1 (9223372036854775807)"
    assert refusal(report(seq=0).replace(b'"seq":0', b'"seq":-18446744073709551617')).reason.endswith("must be >= 0")


def test_counts_range_is_0_to_2_53_and_past_2_64_says_so() -> None:
    assert contract.decode_precinct_record(report(votes={"harris": MAX_COUNT})).reports[0].votes["harris"] == MAX_COUNT
    assert refusal(report(votes={"harris": MAX_COUNT + 1})).reason == (
        f"votes.harris is {MAX_COUNT + 1}, counts must be <= 2^53 ({MAX_COUNT})")
    huge = report(votes={"harris": 0}).replace(b'"harris":0', b'"harris":99999999999999999999')
    assert refusal(huge).reason == f"votes.harris is 1e+20, counts must be <= 2^53 ({MAX_COUNT})"


@pytest.mark.parametrize("field", ["election_id", "race_id", "state", "county_fips", "precinct_id"])
def test_ids_of_256_characters_are_accepted_and_257_refused(field: str) -> None:
    assert contract.decode_precinct_record(report(**{field: "i" * MAX_ID_CHARS})).reports
    error = refusal(report(**{field: "i" * (MAX_ID_CHARS + 1)}))
    assert error.kind == "too_long"
    assert error.reason.startswith(f"{field} is 257 characters (")
    assert error.reason.endswith("at most 256")


def test_a_candidate_id_in_votes_is_an_id_too() -> None:
    assert contract.decode_precinct_record(report(votes={"c" * MAX_ID_CHARS: 1})).reports
    assert refusal(report(votes={"c" * (MAX_ID_CHARS + 1): 1})).kind == "too_long"


@pytest.mark.parametrize("field", ["office", "name", "party", "short_name"])
def test_texts_of_1024_characters_are_accepted_and_1025_refused(field: str) -> None:
    def definition(text: str) -> bytes:
        if field == "office":
            return orjson.dumps({**DEFINITION, "office": text})
        candidate = {**DEFINITION["candidates"][0], field: text}
        return orjson.dumps({**DEFINITION, "candidates": [candidate]})

    assert contract.decode_race_definition(definition("t" * MAX_TEXT_CHARS))
    error = refusal(definition("t" * (MAX_TEXT_CHARS + 1)), contract.decode_race_definition)
    assert error.kind == "too_long"
    assert "is 1025 characters" in error.reason


def batch_of(n: int) -> bytes:
    """A batch of one good report and `n - 1` empty objects (each a refused element)."""
    element = {"county_fips": "1", "precinct_id": "p", "seq": 1, "reported_at": "2024-11-06T02:10:00Z",
               "votes": {}, "complete": True}
    return orjson.dumps({"schema": "precinct-batch/1", "election_id": "e", "race_id": "r", "state": "MN",
                         "reports": [element] + [{}] * (n - 1)})


def test_a_batch_of_10000_elements_is_accepted_and_10001_refused_whole() -> None:
    """Without the bound, 1 MiB of `{}` elements would make 350,000 dead letters from one record."""
    decoded = contract.decode_precinct_record(batch_of(MAX_BATCH_REPORTS))
    assert (len(decoded.reports), len(decoded.refused)) == (1, MAX_BATCH_REPORTS - 1)
    error = refusal(batch_of(MAX_BATCH_REPORTS + 1))
    assert (error.kind, error.reason) == ("too_many", "reports has 10001 entries, at most 10000")


def test_producers_split_batches_at_the_element_limit() -> None:
    reports = [{**REPORT, "precinct_id": f"p{i}"} for i in range(MAX_BATCH_REPORTS + 1)]
    sizes = [len(batch["reports"]) for batch in batch_records(reports, max_bytes=16 * MAX_PAYLOAD_BYTES)]
    assert sizes == [MAX_BATCH_REPORTS, 1]


def test_votes_of_10000_candidates_are_accepted_and_10001_refused() -> None:
    votes = {f"c{i}": 1 for i in range(MAX_ENTRIES)}
    assert len(contract.decode_precinct_record(report(votes=votes)).reports[0].votes) == MAX_ENTRIES
    votes["one-more"] = 1
    assert refusal(report(votes=votes)).reason == "votes has 10001 entries, at most 10000"


def test_county_expected_entries_are_bounded() -> None:
    counties = {f"{i:05d}": 1 for i in range(MAX_ENTRIES)}
    decoded = contract.decode_expected_vote(orjson.dumps({**EXPECTED, "county_expected": counties}))
    assert len(decoded.county_expected) == MAX_ENTRIES
    counties["99999x"] = 1
    error = refusal(orjson.dumps({**EXPECTED, "county_expected": counties}), contract.decode_expected_vote)
    assert error.kind == "too_many"


def test_candidates_of_a_race_are_bounded() -> None:
    candidates = [{"candidate_id": f"c{i}", "name": "A B", "party": "X"} for i in range(MAX_ENTRIES + 1)]
    error = refusal(orjson.dumps({**DEFINITION, "candidates": candidates}), contract.decode_race_definition)
    assert (error.kind, error.reason) == ("too_many", "candidates has 10001 entries, at most 10000")


def recording_line(value: bytes, ts: bytes = b"1730858000000") -> bytes:
    return b'{"ts":' + ts + b',"topic":"precinct-results","key":null,"value":' + value + b"}"


def test_a_recording_value_nested_past_what_can_be_written_back_is_a_bad_line() -> None:
    ok = recording.parse_line(3, recording_line(b"[" * 253 + b"]" * 253))
    assert isinstance(ok, recording.RecordedLine)
    bad = recording.parse_line(3, recording_line(b"[" * 300 + b"]" * 300))
    assert bad == recording.BadLine(3, "'value' nests deeper than 254 levels of arrays and objects")


@pytest.mark.parametrize(("ts", "good"), [(b"0", True), (b"9007199254740992", True), (b"9007199254740993", False),
                                          (b"-1", False), (b"18446744073709551616", False)])
def test_recording_ts_range(ts: bytes, good: bool) -> None:
    parsed = recording.parse_line(1, recording_line(b"{}", ts))
    assert isinstance(parsed, recording.RecordedLine) is good
