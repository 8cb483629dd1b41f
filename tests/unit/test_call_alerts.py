"""Race calls through the race book's reader and the worker's call alerts, no Kafka: only the
race's owner says a call, once; a call held by the embargo is said after a restart; a call read
before its race's definition waits for it, and is a dead letter only once the definition could
no longer come before it."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry

from streams.contract import Alert, race_call_value
from streams.counting.room import CountingRoom
from streams.errors import InvalidRecord
from streams.kafka.topics import home_partition
from streams.metrics import WorkerMetrics, worker_metrics
from streams.settings import Settings
from streams.worker.book_reader import BookReader
from streams.worker.call_alerts import CallAlerts, said_calls
from streams.worker.outbox import Receipt
from streams.worker.waiting_calls import WAITING_CALL_WARNING_S
from tests.unit.test_calls import LIVE, RACE, report

RACE_KEY = LIVE.race
PARTITIONS = 4
HOME = home_partition(RACE_KEY, PARTITIONS)  # where the race's definition is written
BEFORE_CLOSE, AFTER_CLOSE = "2024-11-05T23:30:00Z", "2024-11-06T01:00:00Z"


class RecordingOutbox:
    """What the worker would send: alerts and dead letters, in order."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self.dead: list[InvalidRecord] = []
        self.receipt: Any = None

    def send_alerts(self, alerts: list[Alert], receipt: Any = None) -> None:
        self.alerts.extend(alerts)

    def dead_letter(self, message: Any, error: InvalidRecord) -> None:
        self.dead.append(error)

    def close(self, receipt: Receipt) -> None:
        receipt.settle()


def message(topic: str, value: dict[str, Any], offset: int, ts_ms: int, partition: int = 0) -> Any:
    return SimpleNamespace(topic=topic, partition=partition, offset=offset, key=b"k", value=orjson.dumps(value),
                           headers=(), timestamp=ts_ms)


def definition(offset: int, ts_ms: int, race_id: str = "senate") -> Any:
    return message("race-definitions", {**RACE, "race_id": race_id}, offset, ts_ms, HOME)


def a_call(status: str, winners: list[str], seq: int, offset: int, ts_ms: int) -> Any:
    return message("race-calls", race_call_value(RACE_KEY, "live", status, winners, "AP",  # type: ignore[arg-type]
                                                 "2024-11-06T02:00:00Z", seq), offset, ts_ms)


class Worker:
    """One worker's race book reader and call alerts over its own counting room."""

    def __init__(self, owner: bool, whole: bool = True, metrics: WorkerMetrics | None = None) -> None:
        self.room, self.outbox = CountingRoom(), RecordingOutbox()
        self.speaker = CallAlerts(self.room, self.outbox, owns=lambda race: owner,  # type: ignore[arg-type]
                                  whole=lambda: whole)
        self.book = BookReader(Settings(partitions=PARTITIONS), self.room, self.outbox,  # type: ignore[arg-type]
                               asyncio.Event(), on_call=self.speaker.taken, metrics=metrics)
        self.book.ready.set()

    def read(self, *messages: Any, fresh: bool = True) -> None:
        for m in messages:
            self.book.take_book_record(m, fresh)

    def count(self, unit: str, at: str, votes: dict[str, int] | None = None) -> list[Alert]:
        r = report(unit, 0, votes or {"ossoff": 60, "perdue": 40}, at)
        return self.room.apply_record([r], r.reported_ms)[1]

    def said(self) -> list[str]:
        return [a.type for a in self.outbox.alerts]


def test_only_the_races_owner_says_a_call_and_once() -> None:
    owner, other = Worker(owner=True), Worker(owner=False)
    for worker in (owner, other):
        worker.read(definition(0, 1))
        worker.count("p1", AFTER_CLOSE)
        worker.read(a_call("called", ["ossoff"], 1, 0, 2), a_call("called", ["ossoff"], 1, 1, 3))
        assert worker.room.calls.calls[LIVE].status == "called", "every worker keeps every call"
    assert owner.said() == ["race_called"]
    assert other.said() == [], "N workers would send N race_called alerts under one id"


def test_a_call_held_by_the_embargo_is_said_once_when_the_count_is_released() -> None:
    worker = Worker(owner=True)
    worker.read(definition(0, 1))
    worker.count("p1", BEFORE_CLOSE)
    worker.read(a_call("called", ["ossoff"], 1, 0, 2))
    assert worker.said() == [], "a call never lifts the embargo"
    assert [a.type for a in worker.count("p2", AFTER_CLOSE)] == ["race_called"]
    assert worker.count("p3", AFTER_CLOSE) == []


def test_calls_taken_under_embargo_are_each_said_in_order_when_released() -> None:
    """Whether the race book's reader or the tally agent is ahead is the wall clock's doing: the
    alerts are the same either way (design rule 5), every call said, none folded into the next."""
    worker = Worker(owner=True)
    worker.read(definition(0, 1))
    worker.count("p1", BEFORE_CLOSE)
    worker.read(a_call("called", ["ossoff"], 1, 0, 2), a_call("retracted", [], 2, 1, 3),
                a_call("called", ["perdue"], 3, 2, 4))
    assert [a.type for a in worker.count("p2", AFTER_CLOSE)] == ["race_called", "call_retracted", "race_called"]


def test_a_call_held_by_the_embargo_is_said_after_a_restart_and_not_again() -> None:
    first = Worker(owner=True)
    first.read(definition(0, 1))
    first.count("p1", BEFORE_CLOSE)
    first.read(a_call("called", ["ossoff"], 1, 0, 2))  # held: then the worker stops, its book committed
    restarted = Worker(owner=True)
    restarted.read(definition(0, 1), a_call("called", ["ossoff"], 1, 0, 2), fresh=False)
    restarted.room.replay_report(report("p1", 0, {"ossoff": 60, "perdue": 40}, BEFORE_CLOSE), None)
    restarted.room.calls.heard(said_calls([]))  # nothing in results-alerts: never said
    restarted.speaker.tallies_whole()
    assert restarted.said() == [], "still under embargo"
    [called] = restarted.count("p2", AFTER_CLOSE)
    assert called.type == "race_called"
    # A successor that finds it said (results-alerts) does not repeat it.
    successor = Worker(owner=True)
    successor.read(definition(0, 1), a_call("called", ["ossoff"], 1, 0, 2), fresh=False)
    successor.room.replay_report(report("p2", 0, {"ossoff": 5, "perdue": 5}, AFTER_CLOSE), None)
    successor.room.calls.heard(said_calls([orjson.loads(orjson.dumps(_wire(called)))]))
    successor.speaker.tallies_whole()
    assert successor.said() == []
    assert successor.count("p3", AFTER_CLOSE) == []


def _wire(alert: Alert) -> dict[str, Any]:
    from streams.counting.alerts import alert_value

    return alert_value(alert)


def test_a_call_read_before_its_races_definition_waits_for_it() -> None:
    worker = Worker(owner=True)
    worker.read(a_call("called", ["ossoff"], 1, 0, 5))  # the definition, written first, is still unread
    assert worker.outbox.dead == [], "not refused: its definition may still come"
    worker.read(definition(0, 1))
    assert worker.room.calls.calls[LIVE].winners == ("ossoff",)
    assert worker.outbox.dead == []


def test_a_call_is_a_dead_letter_once_its_races_partition_is_read_past_it() -> None:
    worker = Worker(owner=True)
    worker.read(a_call("called", ["ossoff"], 1, 0, 5))
    worker.read(definition(0, 4, race_id="house"))  # written before the call: the senate's may still come
    assert worker.outbox.dead == []
    worker.read(definition(1, 6, race_id="house"))  # written after the call: the senate's is not coming first
    assert [e.kind for e in worker.outbox.dead] == ["unknown_race"]
    assert LIVE not in worker.room.calls.calls
    worker.read(definition(2, 7))
    assert LIVE not in worker.room.calls.calls, "judged once: a dead letter is not taken later"


def test_the_race_book_is_not_committed_past_a_waiting_call() -> None:
    worker = Worker(owner=True)
    calls = TopicPartition("race-calls", 0)
    worker.read(a_call("called", ["ossoff"], 1, 7, 5))
    assert worker.book.committable(calls, 8) == 7, "a restart must read the waiting call again, fresh"
    worker.read(definition(0, 1))
    assert worker.book.committable(calls, 8) == 8


def test_calls_waiting_for_their_race_show_in_a_gauge_and_one_warning_each(caplog: pytest.LogCaptureFixture) -> None:
    # A call whose race never comes (a mistyped race id, a definition never sent) waits as long as
    # the worker runs: the gauge shows it, and one log line says so once it has waited too long.
    registry = CollectorRegistry()
    worker, now = Worker(owner=True, metrics=worker_metrics(registry)), [1000.0]
    worker.book.clock = lambda: now[0]
    worker.read(a_call("called", ["ossoff"], 1, 7, 5))
    worker.book.watch_waiting()
    assert registry.get_sample_value("votewire_race_calls_waiting") == 1
    now[0] += WAITING_CALL_WARNING_S - 1
    worker.book.watch_waiting()
    assert caplog.records == [], "a definition sent just before the call may still be on its way"
    for _ in range(3):
        now[0] += 2
        worker.book.watch_waiting()
    [line] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"race call race-calls[0]@7 for {RACE_KEY} (live) has waited" in line
    worker.read(definition(0, 1))
    worker.book.watch_waiting()
    assert registry.get_sample_value("votewire_race_calls_waiting") == 0


def test_a_call_read_while_the_book_catches_up_waits_from_when_it_caught_up(caplog: pytest.LogCaptureFixture) -> None:
    # At start the reader reads the whole book: a call may be read long before its definition's
    # partition is, and waiting for that says nothing.
    worker, now = Worker(owner=True), [0.0]
    worker.book.ready.clear()
    worker.book.clock = lambda: now[0]
    worker.read(a_call("called", ["ossoff"], 1, 7, 5))
    now[0] += 10 * WAITING_CALL_WARNING_S
    worker.book.watch_waiting()
    worker.book.ready.set()
    worker.book.watch_waiting()  # as the reader's loop does in the round it catches up
    now[0] += WAITING_CALL_WARNING_S - 1
    worker.book.watch_waiting()
    assert caplog.records == []
    now[0] += 2
    worker.book.watch_waiting()
    assert len(caplog.records) == 1


def bad(topic: str, partition: int, offset: int) -> Any:
    return SimpleNamespace(topic=topic, partition=partition, offset=offset, key=b"k", value=b"not json",
                           headers=(), timestamp=1)


def test_a_bad_book_record_is_sent_by_the_owner_of_its_partition_alone() -> None:
    # Every worker reads the whole book: with N workers a bad definition was dead-lettered N times.
    owned = {0}
    worker = Worker(owner=True)
    worker.book.owns_partition = lambda p: p in owned
    worker.read(bad("race-definitions", 0, 3), bad("race-definitions", 1, 4), bad("baselines", 5, 1))
    assert len(worker.outbox.dead) == 1, "partitions 1 (and 5, which is 1 of 4) are another worker's to send"
    assert worker.book.commits(TopicPartition("race-definitions", 0))
    assert not worker.book.commits(TopicPartition("race-definitions", 1)), "its owner commits past what it sent"
    # A rebalance gives this worker partition 1: what it kept of it is its to send, before it commits it.
    owned.add(1)
    worker.book.gained({1})
    assert not worker.book.commits(TopicPartition("baselines", 5))
    worker.book.hand_over()
    assert len(worker.outbox.dead) == 3
    assert worker.book.skipped == {}
    assert worker.book.commits(TopicPartition("baselines", 5))
    worker.read(bad("race-definitions", 1, 9))
    assert len(worker.outbox.dead) == 4


def test_kept_bad_records_are_let_go_once_their_owner_has_committed_past_them() -> None:
    worker = Worker(owner=True)
    worker.book.owns_partition = lambda p: False
    worker.read(bad("race-definitions", 1, 3), bad("race-definitions", 1, 8), bad("race-calls", 2, 0))
    committed = {TopicPartition("race-definitions", 1): 5, TopicPartition("race-calls", 2): None}

    async def committed_offset(tp: TopicPartition) -> int | None:
        return committed[tp]

    asyncio.run(worker.book.forget_committed(SimpleNamespace(committed=committed_offset)))  # type: ignore[arg-type]
    assert {tp: [m.offset for m, _ in kept] for tp, kept in worker.book.skipped.items()} == {
        TopicPartition("race-definitions", 1): [8], TopicPartition("race-calls", 2): [0]}
    assert worker.outbox.dead == []
