"""Alerts about a race's estimate (streams.worker.estimates) with the race book's reader and the
counting room, no Kafka: only the race's owner speaks, once per revision, from a whole tally."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from streams.contract import Alert, PrecinctReport
from streams.contract.messages import parse_expected_vote
from streams.counting.room import CountingRoom
from streams.settings import Settings
from streams.worker.agents import TallyWorker
from streams.worker.book_reader import BookReader
from streams.worker.estimates import EstimateAlerts
from streams.worker.outbox import Receipt
from tests.unit.test_counting import LIVE, report, room_with_race

RACE_KEY = LIVE.race


class RecordingOutbox:
    """What the worker would send: the alerts, in order."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self.receipt: Any = None

    def send_alerts(self, alerts: list[Alert], receipt: Any = None) -> None:
        self.alerts.extend(alerts)

    def dead_letter(self, message: Any, error: Any) -> None:
        raise AssertionError(f"no dead letter expected: {error}")


def estimate(votes: int, seq: int) -> dict[str, Any]:
    return {"schema": "expected-vote/1", "election_id": "e", "race_id": "president", "state": "MN",
            "expected_votes": votes, "seq": seq, "issued_at": "2024-11-06T04:00:00Z"}


def book_record(value: dict[str, Any], offset: int) -> Any:
    return SimpleNamespace(topic="expected-votes", partition=0, offset=offset, key=RACE_KEY.encode(),
                           value=orjson.dumps(value), headers=())


def reader(room: CountingRoom, outbox: RecordingOutbox, owner: bool, whole: bool = True) -> tuple[BookReader,
                                                                                                  EstimateAlerts]:
    speaker = EstimateAlerts(room, outbox, owns=lambda race: owner, whole=lambda: whole)  # type: ignore[arg-type]
    book = BookReader(Settings(), room, outbox, asyncio.Event())  # type: ignore[arg-type]
    book.on_estimate = speaker.taken
    return book, speaker


def test_a_worker_that_does_not_own_the_race_says_nothing_of_its_estimate() -> None:
    room, outbox = CountingRoom(), RecordingOutbox()
    book, _ = reader(room, outbox, owner=False)
    book.take_book_record(book_record(estimate(1000, 1), 0), fresh=True)
    assert room.book.expected[RACE_KEY].expected_votes == 1000, "every worker keeps the whole race book"
    assert outbox.alerts == [], "N workers would send N expected_vote_revised alerts under one id"


def test_the_owner_says_each_revision_once() -> None:
    room, outbox = room_with_race(), RecordingOutbox()
    book, _ = reader(room, outbox, owner=True)
    book.take_book_record(book_record(estimate(1000, 1), 0), fresh=True)
    book.take_book_record(book_record(estimate(1000, 1), 1), fresh=True)  # the same estimate again
    book.take_book_record(book_record(estimate(1200, 2), 2), fresh=True)
    revised = [a.details["seq"] for a in outbox.alerts if a.type == "expected_vote_revised"]
    assert revised == [1, 2]


def replay(room: CountingRoom, r: PrecinctReport) -> None:
    """A rebuild's report, which Kafka took when it says it was made."""
    room.replay_report(r, r.reported_ms)


def test_no_milestone_from_a_half_rebuilt_tally_and_the_real_ones_once_it_is_whole() -> None:
    """The tally's whole count is 300 of an estimate of 1,000 (30%: its 25% milestone said under
    that estimate). A revision to 400 arrives while a rebuild has read 100 votes of it: on the
    half tally it would say "25%" (false: it is 75%) and miss the real 50% and 75%."""
    room, outbox = room_with_race(), RecordingOutbox()
    book, speaker = reader(room, outbox, owner=True, whole=False)
    room.book.put_expected(parse_expected_vote(estimate(1000, 1)))
    speaker.heard({RACE_KEY: room.book.expected[RACE_KEY]})  # what the earlier owner alerted on
    replay(room, report("p1", 0, "2024-11-06T03:00:00Z", 60, 40))  # the rebuild, half way
    book.take_book_record(book_record(estimate(400, 2), 1), fresh=True)
    assert outbox.alerts == [], "nothing said from a half-rebuilt tally"
    replay(room, report("p2", 0, "2024-11-06T03:00:00Z", 120, 80, county="27001"))  # the rebuild's end
    speaker.whole = lambda: True
    speaker.tallies_whole(lambda race: race == RACE_KEY)
    milestones = sorted(int(a.details["threshold"]) for a in outbox.alerts  # type: ignore[call-overload]
                        if a.type == "counted_milestone")
    assert milestones == [50, 75]
    assert [a.details["seq"] for a in outbox.alerts if a.type == "expected_vote_revised"] == [2]


def test_a_successor_neither_repeats_a_revision_said_nor_misses_one_that_was_not() -> None:
    room, outbox = room_with_race(), RecordingOutbox()
    _, speaker = reader(room, outbox, owner=True)
    room.book.put_expected(parse_expected_vote(estimate(1000, 1)))
    speaker.heard({RACE_KEY: room.book.expected[RACE_KEY]})  # its predecessor said seq 1
    speaker.tallies_whole(lambda race: True)
    assert outbox.alerts == [], "said already: not repeated"
    room.book.put_expected(parse_expected_vote(estimate(1100, 2)))  # came before the crash, never said
    speaker.forget(lambda race: True)
    speaker.heard({RACE_KEY: parse_expected_vote(estimate(1000, 1))})
    speaker.tallies_whole(lambda race: True)
    assert [a.details["seq"] for a in outbox.alerts if a.type == "expected_vote_revised"] == [2]


def test_the_race_book_is_committed_only_past_dead_letters_delivered_in_order() -> None:
    """A later batch's dead letters delivered before an earlier batch's must not commit past those."""
    book, _ = reader(CountingRoom(), RecordingOutbox(), owner=False)
    commits: list[object] = []

    class Consumer:
        async def commit(self, positions: object) -> None:
            commits.append(positions)

    earlier, later = Receipt(), Receipt()
    earlier.pending = 1  # a dead letter still on its way (failing, sent again)
    for receipt, positions in ((earlier, "up to 10"), (later, "up to 20")):
        receipt.closed = True
        receipt.settle()
        book.to_commit.append((receipt, positions))  # type: ignore[arg-type]
    asyncio.run(book._commit_delivered(Consumer()))  # type: ignore[arg-type]
    assert commits == [], "the later batch is delivered, the earlier is not: nothing committed"
    earlier.pending = 0
    earlier.settle()
    asyncio.run(book._commit_delivered(Consumer()))  # type: ignore[arg-type]
    assert commits == ["up to 20"]


def test_the_models_alerts_hold_up_no_input_records_ack(tmp_path: Path) -> None:
    """The model's alerts come as a snapshot is built, between records: on the receipt of the
    record taken last they would delay its ack, or ride on one already acked. A receipt of their own."""
    worker = TallyWorker(Settings(data_dir=str(tmp_path)), CollectorRegistry())
    worker.outbox.receipt = last_record = Receipt()
    receipts: list[Receipt | None] = []
    worker.outbox.send_alerts = lambda alerts, receipt=None: receipts.append(receipt)  # type: ignore[method-assign]
    worker.room.models.send_alerts([])
    assert len(receipts) == 1
    assert receipts[0] is not None, "on the last record's receipt"
    assert receipts[0] is not last_record
