"""Race calls through the race book's reader and the worker's call alerts, no Kafka: only the
race's owner says a call, once; a call held by the embargo is said after a restart; a call read
before its race's definition waits for it, and is a dead letter only once the definition could
no longer come before it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import orjson
from aiokafka import TopicPartition

from streams.contract import Alert, race_call_value
from streams.counting.room import CountingRoom
from streams.errors import InvalidRecord
from streams.kafka.topics import home_partition
from streams.settings import Settings
from streams.worker.book_reader import BookReader
from streams.worker.call_alerts import CallAlerts, said_calls
from streams.worker.outbox import Receipt
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

    def __init__(self, owner: bool, whole: bool = True) -> None:
        self.room, self.outbox = CountingRoom(), RecordingOutbox()
        self.speaker = CallAlerts(self.room, self.outbox, owns=lambda race: owner,  # type: ignore[arg-type]
                                  whole=lambda: whole)
        self.book = BookReader(Settings(partitions=PARTITIONS), self.room, self.outbox,  # type: ignore[arg-type]
                               asyncio.Event(), on_call=self.speaker.taken)
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
