"""The connection-error collapser: one line when the broker goes away, one when it is back."""

from __future__ import annotations

import logging

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaError, ProducerFenced

from streams.kafka.connection_log import ConnectionErrorCollapser, is_aiokafka_leftover, is_connection_error


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def record(message: str, name: str = "aiokafka.client", level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_an_outage_is_one_line_when_lost_and_one_when_back(clock: Clock) -> None:
    collapser = ConnectionErrorCollapser(quiet_s=3.0, clock=clock)
    kept = []
    for i in range(3526):  # what a 10-second outage logged before
        clock.now += 10 / 3526
        rec = record("Unable connect to node with id 1: [Errno 111] Connect call failed ('127.0.0.1', 9092)"
                     if i % 2 else "Unable to update metadata from [1]")
        if collapser.filter(rec):
            kept.append(rec.getMessage())
    assert len(kept) == 1
    assert kept[0].startswith("broker connection lost: Unable")
    assert collapser.recovered() is None, "still within the quiet period"
    clock.now += 3.0
    back = collapser.recovered()
    assert back is not None
    assert "3526 connection errors" in back
    assert "3525 of them not logged" in back
    assert collapser.recovered() is None, "said once"
    clock.now += 60
    again = record("Failed fetch messages from 1: NodeNotReadyError")
    assert collapser.filter(again), "a later outage is reported again"


def test_other_records_pass_untouched(clock: Clock) -> None:
    collapser = ConnectionErrorCollapser(clock=clock)
    assert collapser.filter(record("Unable to update metadata from [1]"))
    for rec in (record("rebuilt the tallies of partitions [0]", name="streams.worker.agents"),
                record("Unable connect to node with id 1", level=logging.DEBUG),
                record("Unable connect to node", name="someone.else"),
                record("Heartbeat failed: not a connection thing?", name="faust.transport")):
        assert collapser.filter(rec)
        assert "broker connection lost" not in rec.getMessage()


def test_an_aiokafka_error_repeated_word_for_word_at_once_is_logged_once(clock: Clock) -> None:
    collapser = ConnectionErrorCollapser(quiet_s=3.0, clock=clock)
    text = ("OffsetCommit failed for group votewire due to group error ([Error 25] UnknownMemberIdError: "
            "votewire), will rejoin")
    name = "aiokafka.consumer.group_coordinator"
    assert [collapser.filter(record(text, name=name)) for _ in range(3)] == [True, False, False]
    assert collapser.filter(record("OffsetCommit failed for group votewire: another error", name=name))
    clock.now += 3.0
    assert collapser.filter(record(text, name=name)), "said again after a quiet while"
    assert collapser.filter(record("rebuilt", name="streams.worker.agents"))
    assert collapser.filter(record("rebuilt", name="streams.worker.agents")), "only aiokafka's are collapsed"


def _raised(exc: BaseException, cause: BaseException | None = None) -> BaseException:
    try:
        raise exc from cause
    except BaseException as caught:
        return caught


def with_exception(message: str, exc: BaseException, name: str) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, message, None, (type(exc), exc, exc.__traceback__))


def test_a_lost_connection_is_recognised_by_the_exception_a_record_carries(clock: Clock) -> None:
    lost = _raised(KafkaError("Unexpected error during batch delivery"), KafkaConnectionError("Connection closed"))
    sender = with_exception("Unexpected error in sender routine", lost, "aiokafka.producer.sender")
    leftover = with_exception("Future exception was never retrieved", lost, "asyncio")
    assert is_connection_error(sender)
    assert is_aiokafka_leftover(leftover)
    collapser = ConnectionErrorCollapser(clock=clock)
    assert [collapser.filter(r) for r in (sender, leftover)] == [True, False], "one line for the outage"
    clock.now += 5
    assert collapser.recovered() is not None
    reset = with_exception("Future exception was never retrieved", _raised(ConnectionResetError(104, "reset")),
                           "asyncio")
    assert not collapser.filter(reset), "collected after the outage: no line"
    assert collapser.lost_at is None, "and no second outage"
    assert not is_connection_error(with_exception("publish failed", lost, "streams.worker.guard")), \
        "votewire's own lines are its own business"


def test_an_aiokafka_future_failed_unawaited_is_not_reported_again(clock: Clock) -> None:
    collapser = ConnectionErrorCollapser(clock=clock)
    fenced = with_exception("Future exception was never retrieved", _raised(ProducerFenced()), "asyncio")
    assert not is_connection_error(fenced)
    assert not collapser.filter(fenced)
    ours = with_exception("Future exception was never retrieved", _raised(ValueError("a bug")), "asyncio")
    assert collapser.filter(ours), "anything but aiokafka's is a bug to see"


def test_fausts_warning_for_every_failed_send_is_left_to_the_outbox(clock: Clock) -> None:
    """faust warns once per failed send; the outbox sends it again and logs the outage once."""
    collapser = ConnectionErrorCollapser(clock=clock)
    failed = record("_on_published error for message topic dead-letters error [Error 10] MessageSizeTooLargeError",
                    name="faust.topics", level=logging.WARNING)
    assert not collapser.filter(failed)
    assert collapser.filter(record("anything else", name="faust.topics", level=logging.WARNING))


def test_one_decision_per_record_across_handlers(clock: Clock) -> None:
    collapser = ConnectionErrorCollapser(clock=clock)
    first = record("Unable to update metadata from [1]")
    assert collapser.filter(first)
    assert collapser.filter(first), "the second handler sees the same decision"
    second = record("Unable to update metadata from [1]")
    assert not collapser.filter(second)
    assert not collapser.filter(second)
    clock.now += 5
    assert "2 connection errors" in (collapser.recovered() or "")


@pytest.mark.parametrize("message", ["Got error produce response: NodeNotReadyError", "Group Coordinator Request "
                                     "failed: NodeNotReadyError", "Failed fetch messages from 1: KafkaConnectionError"])
def test_the_errors_of_a_real_outage_are_recognised(message: str) -> None:
    assert is_connection_error(record(message, level=logging.WARNING))
