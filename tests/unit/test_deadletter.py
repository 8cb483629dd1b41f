from __future__ import annotations

import pytest

from streams.contract import decode_precinct_record
from streams.contract.deadletter import dead_letter_headers
from streams.errors import InvalidRecord


def test_headers_name_the_error_class_the_reason_and_the_source() -> None:
    with pytest.raises(InvalidRecord) as caught:
        decode_precinct_record(b"{not json")

    headers = dead_letter_headers(caught.value, "staging.precinct-results", 2, 1841)

    assert [name for name, _ in headers] == ["votewire-error", "votewire-reason", "votewire-source"]
    values = dict(headers)
    assert values["votewire-error"] == b"not_json"
    assert values["votewire-reason"].startswith(b"value is not JSON")
    assert values["votewire-source"] == b"staging.precinct-results[2]@1841"


def test_the_reason_header_is_the_errors_sentence() -> None:
    error = InvalidRecord("votes.harris is -5, counts must be >= 0", "bad_count")

    values = dict(dead_letter_headers(error, "precinct-results", 0, 7))

    assert values["votewire-reason"] == b"votes.harris is -5, counts must be >= 0"


def test_header_values_are_utf8_even_for_characters_a_reason_quotes() -> None:
    error = InvalidRecord("votes.peña is -1, counts must be >= 0 \udc80", "bad_count")

    values = dict(dead_letter_headers(error, "precinct-results", 0, 0))

    assert values["votewire-reason"].decode("utf-8").startswith("votes.peña is -1")
