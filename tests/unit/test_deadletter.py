from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaError, NotLeaderForPartitionError, TopicAuthorizationFailedError

from streams.contract.deadletter import classify, dead_letter_headers
from streams.contract.messages import decode_precinct_report
from streams.errors import BrokerError, ConfigError, InvalidRecord, SetupError


def test_headers_name_the_error_class_the_reason_and_the_source() -> None:
    with pytest.raises(InvalidRecord) as caught:
        decode_precinct_report(b"{not json")

    headers = dead_letter_headers(caught.value, "staging.precinct-results", 2, 1841)

    assert [name for name, _ in headers] == ["votewire-error", "votewire-reason", "votewire-source"]
    values = dict(headers)
    assert values["votewire-error"] == b"not_json"
    assert values["votewire-reason"].startswith(b"value is not JSON")
    assert values["votewire-source"] == b"staging.precinct-results[2]@1841"


def test_the_reason_header_is_the_sentence_without_the_location() -> None:
    error = InvalidRecord("votes.harris is -5, counts must be >= 0", "bad_count").at("precinct-results[0]@7")

    values = dict(dead_letter_headers(error, "precinct-results", 0, 7))

    assert values["votewire-reason"] == b"votes.harris is -5, counts must be >= 0"


def test_header_values_are_utf8_even_for_characters_a_reason_quotes() -> None:
    error = InvalidRecord("votes.peña is -1, counts must be >= 0 \udc80", "bad_count")

    values = dict(dead_letter_headers(error, "precinct-results", 0, 0))

    assert values["votewire-reason"].decode("utf-8").startswith("votes.peña is -1")


@pytest.mark.parametrize(
    ("exc", "verdict"),
    [
        (InvalidRecord("value is not JSON", "not_json"), "dead_letter"),
        (BrokerError("broker still starting"), "retry"),
        (KafkaConnectionError(), "retry"),
        (NotLeaderForPartitionError(), "retry"),
        (TopicAuthorizationFailedError(), "raise"),  # aiokafka: not retriable
        (KafkaError(), "raise"),
        (ConfigError("bad setting"), "raise"),
        (SetupError("no java"), "raise"),
        (ValueError("a bug"), "raise"),
        (asyncio.CancelledError(), "raise"),
        (KeyboardInterrupt(), "raise"),
    ],
)
def test_classify_decides_dead_letter_retry_or_raise(exc: BaseException, verdict: str) -> None:
    assert classify(exc) == verdict
