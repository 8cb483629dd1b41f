"""Follows `race-definitions`, `expected-votes`, `baselines` and `race-calls` into the counting
room's race book.

All four topics are compacted, so they are read from the beginning at every start: that rebuilds
the book with no changelog. The consumer group's committed offsets say what an earlier run
already acted on: older records only rebuild state, newer ones (`fresh`) that are malformed
are dead-lettered, and offsets are committed only once those dead letters are delivered (a
`Receipt` per commit, streams.worker.outbox). Every worker reads every bad record, but one
sends it: the owner of the input partition of the same number as the book partition it came
from (`owns_partition`). The others keep it (`skipped`) until that owner's commit has passed it,
and a worker that gains the partition sends what it kept. A partition's offsets are committed
by its owner alone, for what it read while owning it, so no commit passes a bad record that no
one sent: each is sent at least once, and once unless a rebalance or a crash moves its
partition before its owner commits past it. Alerts about a new estimate are not the reader's:
it tells `on_estimate`, and the race's owner speaks (streams.worker.estimates).
The tally agent waits for `ready` (TallyWorker.book_ready): set once the reader has caught up
with the end offsets it saw at start.
A call is checked against the book (a call for a candidate the race does not have is a dead
letter): so calls are taken after the definitions of the same fetch, and a call read before its
race's definition waits for it (streams.worker.waiting_calls says until when). Alerts about a
call are not the reader's either: it tells `on_call`, and the race's owner speaks
(streams.worker.call_alerts); nor of a definition read live (`on_definition`,
streams.worker.call_alerts).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from streams import contract
from streams.counting import CountingRoom
from streams.errors import InvalidRecord
from streams.kafka.clients import kafka_client
from streams.kafka.topics import topic_partitions
from streams.metrics import WorkerMetrics
from streams.model.baselines import Baseline, decode_baseline
from streams.settings import Settings
from streams.worker.app import app_id
from streams.worker.outbox import Outbox, Receipt
from streams.worker.waiting_calls import WAITING_CALL_WARNING_S, WaitingCall, WaitingCalls

COMMIT_EVERY_S = 2.0

log = logging.getLogger(__name__)


class BookReader:
    """Keeps `room.book` and sets `ready` once caught up; fresh malformed records' dead letters
    go out through `outbox`."""

    def __init__(self, settings: Settings, room: CountingRoom, outbox: Outbox, ready: asyncio.Event,
                 on_estimate: Callable[[str], None] = lambda _: None,
                 on_call: Callable[[contract.TallyKey], None] = lambda _: None,
                 on_definition: Callable[[contract.RaceDefinition | None, contract.RaceDefinition], None] = (
                     lambda _old, _new: None),
                 metrics: WorkerMetrics | None = None, owns_partition: Callable[[int], bool] = lambda _: True) -> None:
        self.settings = settings
        self.room = room
        self.outbox = outbox
        self.ready = ready
        self.on_estimate = on_estimate  # a race's new estimate taken (EstimateAlerts.taken)
        self.receipt = Receipt()  # the dead letters sent since the last commit
        # Positions to commit, each behind the receipt of the dead letters sent before it, in order:
        # one is committed only once its own and every earlier receipt are delivered.
        self.to_commit: deque[tuple[Receipt, dict[TopicPartition, OffsetAndMetadata]]] = deque()
        self.on_call = on_call  # a race's new call taken (CallAlerts.taken)
        self.on_definition = on_definition  # a race's changed definition read live (CallAlerts.definition_taken)
        self.waiting = WaitingCalls(settings.partitions)
        self.metrics = metrics
        self.clock: Callable[[], float] = time.monotonic  # when calls start waiting, and for how long
        self.caught_up_at: float | None = None  # the clock when `ready` was first seen set
        self.owns_partition = owns_partition  # whether this worker holds input partition p
        # Fresh bad records of partitions another worker owns, kept until its commit passes them.
        self.skipped: dict[TopicPartition, list[tuple[Any, InvalidRecord]]] = {}
        self.handovers: set[int] = set()  # input partitions gained whose kept records are still to send

    async def follow_race_book(self) -> None:
        settings = self.settings
        consumer = kafka_client(AIOKafkaConsumer, settings, group_id=f"{app_id(settings)}-race-book",
                                enable_auto_commit=False, auto_offset_reset="earliest")
        await consumer.start()
        try:
            await self._follow(consumer)
        finally:
            await consumer.stop()

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        tps = await _partitions(consumer, self.settings)
        consumer.assign(tps)
        self.waiting.partitions = sum(tp.topic.endswith(contract.RACE_DEFINITIONS) for tp in tps)
        committed = {tp: (await consumer.committed(tp)) or 0 for tp in tps}
        ends = await consumer.end_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        last_commit, uncommitted = 0.0, False
        loop = asyncio.get_running_loop()
        while True:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            self.outbox.receipt = self.receipt  # the dead letters below are sent on its behalf
            self.hand_over()
            for tp, message in calls_last(batch):
                self.take_book_record(message, fresh=message.offset >= committed[tp])
            if not self.ready.is_set() and all(await _positions_reached(consumer, ends)):
                self.ready.set()
            self.watch_waiting()
            # Also once input goes quiet: an uncommitted tail would owe its dead letters again after a
            # restart; and while records are kept, to let them go as their owners commit past them.
            uncommitted = uncommitted or bool(batch)
            if (uncommitted or self.skipped) and loop.time() - last_commit > COMMIT_EVERY_S:
                await self.forget_committed(consumer)
                positions = {tp: OffsetAndMetadata(self.committable(tp, await consumer.position(tp)), "")
                             for tp in tps if self.commits(tp)}
                self.to_commit.append((self.receipt, positions))
                self.outbox.close(self.receipt)
                self.receipt = Receipt()
                last_commit, uncommitted = loop.time(), False
            await self._commit_delivered(consumer)

    async def _commit_delivered(self, consumer: AIOKafkaConsumer) -> None:
        positions = None
        while self.to_commit and self.to_commit[0][0].delivered:
            positions = self.to_commit.popleft()[1]
        if positions is not None:
            await consumer.commit(positions)

    def take_book_record(self, message: Any, fresh: bool) -> None:
        if message.value is None:
            return  # a tombstone on a compacted topic: nothing to tally
        try:
            if message.topic.endswith(contract.RACE_DEFINITIONS):
                definition = contract.decode_race_definition(message.value)
                self.take_definition(definition, message.offset)
                self.take_waiting_calls(definition.key, message)
            elif message.topic.endswith(contract.RACE_CALLS):
                self.take_call(message, fresh)
            elif message.topic.endswith(contract.BASELINES):
                self.take_baseline(decode_baseline(message.value))
            else:
                self.take_expected(contract.decode_expected_vote(message.value))
        except InvalidRecord as error:
            if fresh:
                self.refuse(message, error)

    def refuse(self, message: Any, error: InvalidRecord) -> None:
        """A fresh bad record: dead-lettered by its partition's owner, kept by the others."""
        if self.owns_partition(self._input_partition(message.partition)):
            self.outbox.dead_letter(message, error)
        else:
            self.skipped.setdefault(TopicPartition(message.topic, message.partition), []).append((message, error))

    def gained(self, partitions: set[int]) -> None:
        """This worker now owns these input partitions (an assignment): the bad records it kept of
        them are its to send, in the reader's next round (`hand_over`), before it commits them."""
        self.handovers |= partitions

    def hand_over(self) -> None:
        """Send what was kept of the partitions gained and still owned."""
        for tp in [tp for tp in self.skipped if self._input_partition(tp.partition) in self.handovers
                   and self.owns_partition(self._input_partition(tp.partition))]:
            for message, error in self.skipped.pop(tp):
                self.outbox.dead_letter(message, error)
        self.handovers.clear()

    def commits(self, tp: TopicPartition) -> bool:
        """Whether this worker commits `tp`: it owns its partition and has sent what it kept of it."""
        partition = self._input_partition(tp.partition)
        return self.owns_partition(partition) and partition not in self.handovers

    async def forget_committed(self, consumer: AIOKafkaConsumer) -> None:
        """Drop the kept records that their partition's owner has committed past (it sent them)."""
        for tp in list(self.skipped):
            committed = (await consumer.committed(tp)) or 0
            left = [(m, e) for m, e in self.skipped.get(tp, []) if m.offset >= committed]
            if left:
                self.skipped[tp] = left
            else:
                self.skipped.pop(tp, None)

    def _input_partition(self, book_partition: int) -> int:
        return book_partition % self.settings.partitions

    def watch_waiting(self) -> None:
        """Show the calls waiting for their race: the gauge, and one warning per call that has
        waited too long (streams.worker.waiting_calls) since it was read and the book caught up."""
        if self.metrics is not None:
            self.metrics.calls_waiting.set(self.waiting.count)
        now = self.clock()
        if self.caught_up_at is None and self.ready.is_set():
            self.caught_up_at = now
        if self.caught_up_at is not None and now - self.caught_up_at > WAITING_CALL_WARNING_S:
            for waited in self.waiting.overdue(now - WAITING_CALL_WARNING_S):
                _warn_overdue(waited, now)

    def take_definition(self, definition: contract.RaceDefinition, offset: int) -> None:
        # The offset in the compacted topic orders a race's definitions: it becomes the
        # definition's revision, so a changed definition raises the snapshot version.
        definition = dataclasses.replace(definition, revision=offset)
        old = self.room.book.definitions.get(definition.key)
        if self.room.book.put_definition(definition):
            self.room.definition_changed(definition)
            if self.ready.is_set():  # read live, not the book rebuilt at start
                self.on_definition(old, definition)

    def take_waiting_calls(self, race: str, message: Any) -> None:
        """`race`'s definition was just read (`message`): the calls that waited for it are taken,
        and those its partition has now been read past are refused."""
        for waited in self.waiting.arrived(race) + self.waiting.passed(message.partition, message.timestamp):
            self._judge(waited.message, waited.fresh, waited.call)

    def take_call(self, message: Any, fresh: bool) -> None:
        call = dataclasses.replace(contract.decode_race_call(message.value), revision=message.offset)
        if call.race not in self.room.book.definitions:
            self.waiting.wait(message, fresh, call, self.clock())  # its definition may still come
            return
        self._take_known(call)

    def _judge(self, message: Any, fresh: bool, call: contract.RaceCall) -> None:
        """A call that waited: taken now that its race is known, or refused."""
        try:
            self._take_known(call)
        except InvalidRecord as error:
            if fresh:
                self.refuse(message, error)

    def _take_known(self, call: contract.RaceCall) -> None:
        if self.room.take_call(call):
            self.on_call(call.tally_key)

    def committable(self, tp: TopicPartition, position: int) -> int:
        """Where to commit a partition read up to `position`: not past a call still waiting."""
        first = self.waiting.first_offset(tp.topic, tp.partition)
        return position if first is None else min(position, first)

    def take_expected(self, estimate: contract.ExpectedVote) -> None:
        taken, _ = self.room.book.put_expected(estimate)
        if not taken:
            return  # duplicate or stale estimate
        self.room.estimate_changed(estimate.key)
        self.on_estimate(estimate.key)

    def take_baseline(self, baseline: Baseline) -> None:
        # A higher seq replaces the race's whole baseline; a duplicate or stale one changes nothing.
        if self.room.book.put_baseline(baseline):
            self.room.baseline_changed(baseline.key)


def _warn_overdue(waited: WaitingCall, now: float) -> None:
    m, call = waited.message, waited.call
    log.warning("race call %s[%d]@%d for %s (%s) has waited %.0f s for its race's definition: none was read, and "
                "it is refused as unknown_race only once race-definitions[%d] is read past a record timed after it",
                m.topic, m.partition, m.offset, call.race, call.mode, now - waited.since, waited.partition)


async def _partitions(consumer: AIOKafkaConsumer, settings: Settings) -> list[TopicPartition]:
    topics = (contract.RACE_DEFINITIONS, contract.EXPECTED_VOTES, contract.BASELINES, contract.RACE_CALLS)
    return [tp for topic in topics for tp in await topic_partitions(consumer, settings.topic(topic))]


def calls_last(batch: dict[TopicPartition, list[Any]]) -> list[tuple[TopicPartition, Any]]:
    """A fetch's records, each partition's in order, the race calls after the rest."""
    records = [(tp, message) for tp, messages in batch.items() for message in messages]
    return sorted(records, key=lambda record: record[0].topic.endswith(contract.RACE_CALLS))


async def _positions_reached(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> list[bool]:
    return [await consumer.position(tp) >= end for tp, end in ends.items()]
