"""A race's definition read after its count, through the race book's reader and the worker's
definition alerts, no Kafka: the owner says `runoff_likely` once the threshold is known; other
workers, and a reader still rebuilding the book at start, say nothing."""

from __future__ import annotations

import asyncio

from streams.counting.room import CountingRoom
from streams.settings import Settings
from streams.worker.book_reader import BookReader
from streams.worker.call_alerts import CallAlerts
from tests.unit.test_call_alerts import AFTER_CLOSE, HOME, PARTITIONS, RACE_KEY, RecordingOutbox, message
from tests.unit.test_calls import RACE, expect_1000, report

THRESHOLD_50 = message("race-definitions", {**RACE, "win_threshold": 50}, 3, 1, HOME)


def reader(owner: bool, whole: bool = True, ready: bool = True) -> tuple[BookReader, RecordingOutbox]:
    room, outbox = CountingRoom(), RecordingOutbox()
    expect_1000(room)
    r = report("p1", 0, {"ossoff": 400, "perdue": 450, "hazel": 130}, AFTER_CLOSE)
    assert room.apply_record([r], r.reported_ms)[1] == [], "under embargo: no definition yet"
    speaker = CallAlerts(room, outbox, owns=lambda race: owner, whole=lambda: whole)  # type: ignore[arg-type]
    book = BookReader(Settings(partitions=PARTITIONS), room, outbox, asyncio.Event(),  # type: ignore[arg-type]
                      on_definition=speaker.definition_taken)
    if ready:
        book.ready.set()
    return book, outbox


def test_the_owner_says_a_runoff_once_its_definition_comes_after_the_count() -> None:
    book, outbox = reader(owner=True)
    book.take_book_record(THRESHOLD_50, fresh=True)
    assert [(a.type, a.race_id, a.details["leader"]) for a in outbox.alerts] == [("runoff_likely", "senate", "perdue")]
    book.take_book_record(THRESHOLD_50, fresh=True)  # the same definition again: nothing changed
    assert len(outbox.alerts) == 1


def test_no_one_else_says_it_nor_a_reader_rebuilding_the_book_or_a_worker_rebuilding_its_tallies() -> None:
    for book, outbox in (reader(owner=False), reader(owner=True, ready=False), reader(owner=True, whole=False)):
        book.take_book_record(THRESHOLD_50, fresh=True)
        assert outbox.alerts == []
        assert book.room.book.definitions[RACE_KEY].rules.win_threshold == 50
