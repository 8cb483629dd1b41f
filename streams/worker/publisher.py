"""Publishing the coalesced snapshots: `state-results` and `county-results`, on producers of its own.

Snapshots are derived state: after a restart every tally is rebuilt and re-published with
the same version, so a snapshot lost in a crash is sent again, and nothing ties snapshot
sends to input offsets. They therefore skip faust's `send_soon` path (~140 us a record here)
for plain aiokafka producers (~11 us): a national night's catch-up publishes hundreds of
thousands of county snapshots. Idempotent, so retries neither reorder nor repeat a key's
snapshots, and a snapshot with a higher version never lands before a lower one.

Pacing: a round sends at most one snapshot per dirty key, state snapshots first (the
headline figures), then waits the publish interval. When sending takes long (a catch-up,
thousands of dirty counties), the next round of that kind waits at least `BUSY_FACTOR` times
as long, so that publishing takes at most a tenth of the worker's time and counting goes on:
county snapshots then come less often, the states' still every interval or so. While the
worker is catching up (`CatchUp`: more input waiting than it takes in `CATCH_UP_S`), every
snapshot it would build is overtaken before anyone needs it, so rounds wait `CATCH_UP_FACTOR`
times as long instead; the wait is looked at again every interval, so the snapshots follow
within an interval or so once the worker has caught up. In steady state the interval rules
for both. The timer decides *when*; what a snapshot says depends only on the records (design
rule 5).

Fencing: each home partition publishes through a transactional producer of its own, whose
transactional id is the partition's (`<app_id>-snapshots-<partition>`), one transaction per
round. A worker that gains a partition starts that producer before it reads what was already
published (the holds, streams.counting.holds), and starting it fences every earlier producer
with the id: an owner that was frozen (SIGSTOP, a paused VM) past its session timeout with
snapshots still in its buffer has them refused by the broker when it wakes, instead of landing
after its successor's newer ones (Kafka Streams fenced its zombie tasks the same way). A
worker whose producer is fenced publishes nothing of that partition until it owns it again
and has claimed and rebuilt it. Readers need no `read_committed`: what a zombie wrote before the
fence stays in the log (aborted) ahead of its successor's snapshots, what it sends after the
fence is refused, and every snapshot stands alone. A fence found on a partition the group has
given this worker (back) is not waited out: the worker claims and rebuilds it at once
(TallyWorker.reclaim), or the partition would be counted and committed, never published.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet
from typing import Any, NamedTuple

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, ProducerFenced

from streams import contract
from streams.counting import COUNTED_HEADER, CountingRoom, Snapshot
from streams.kafka.clients import kafka_client
from streams.kafka.topics import home_partition, key_hash
from streams.metrics import SNAPSHOT_KINDS, WorkerMetrics
from streams.settings import Settings
from streams.worker.app import app_id

BUSY_FACTOR = 9.0
STOP_TIMEOUT_S = 10.0  # a producer let go of (a partition lost or fenced) gets this long to close
CATCH_UP_FACTOR = 49.0  # publishing at most a fiftieth of the time while catching up
CATCH_UP_S = 2.0  # catching up: more input waiting than the agent takes in this long at its pace
PACE_WINDOW_S = 1.0  # the agent's pace is measured over this long at least
CATCH_UP_MIN_RECORDS = 100  # fewer waiting is never catching up (a burst after a quiet spell)
MAX_PAUSE_LOOKS = 1_000  # the pause between rounds looks at the pace at most this often
ENCODE_CHUNK = 256  # snapshots built and encoded between two sends' awaits (and two CPU-time reads)

log = logging.getLogger(__name__)


class _Outgoing(NamedTuple):
    """A snapshot encoded for its producer: topic, partition, key and value, and its header's count."""

    topic: str
    partition: int
    key: bytes
    value: bytes
    counted: int


class CatchUp:
    """Whether the worker is catching up: more input records waiting (`backlog()`) than the
    agent takes (`taken()` counts them) in `CATCH_UP_S` at its recent pace. Live, the input
    waiting is what came since the last fetch, well under that."""

    def __init__(self, backlog: Callable[[], int], taken: Callable[[], int],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.backlog, self.taken, self.clock = backlog, taken, clock
        self.seen = (clock(), taken())  # when the pace was last measured, and the count then
        self.pace = 0.0  # records a second

    def __call__(self) -> bool:
        now, taken = self.clock(), self.taken()
        then, before = self.seen
        if now - then >= PACE_WINDOW_S:
            self.pace, self.seen = (taken - before) / (now - then), (now, taken)
        return self.backlog() > max(CATCH_UP_MIN_RECORDS, CATCH_UP_S * self.pace)


class SnapshotPublisher:
    """Publishes what `room` has due, for the partitions `owned()` names, whenever `may_publish()`
    (the race book read, the tallies whole, no freeze fence: TallyWorker.may_publish)."""

    def __init__(self, settings: Settings, room: CountingRoom, owned: Callable[[], AbstractSet[int]],
                 may_publish: Callable[[], bool], metrics: WorkerMetrics,
                 on_fenced: Callable[[int], None] = lambda _: None,
                 catching_up: Callable[[], bool] = lambda: False) -> None:
        self.settings = settings
        self.room = room
        self.owned = owned
        self.may_publish = may_publish
        self.metrics = metrics
        self.on_fenced = on_fenced  # a partition's producer found fenced (TallyWorker.reclaim)
        self.catching_up = catching_up  # a `CatchUp`, in a worker
        # Labelled children looked up once: `.labels()` per snapshot is measurable.
        self.snapshot_counters = {k: metrics.snapshots.labels(kind=k) for k in SNAPSHOT_KINDS}
        self.topics = {"state": settings.topic(contract.STATE_RESULTS),
                       "county": settings.topic(contract.COUNTY_RESULTS)}
        self.counties_took = (0.0, 0.0)  # (loop time, CPU seconds) of the last county round
        self.producers: dict[int, AIOKafkaProducer] = {}  # home partition -> its transactional producer
        # Owned partitions whose producer another worker fenced: dark until claimed again.
        self.fenced_out: set[int] = set()
        self.partition_counts: dict[str, int] = {}  # output topic -> its partitions, asked once
        self.lock = asyncio.Lock()  # a round, or a change of producers: one at a time

    async def claim(self, partitions: Iterable[int]) -> None:
        """Start a fresh producer for each partition, fencing every earlier one with its id
        (this worker's own too: a rebuilt partition may have been counted elsewhere meanwhile)."""
        async with self.lock:
            await self._claim(partitions)

    async def release(self, partitions: Iterable[int]) -> None:
        """Let the producers of partitions this worker no longer owns go."""
        async with self.lock:
            for partition in list(partitions):
                self.fenced_out.discard(partition)
                await self._drop(partition)

    async def _claim(self, partitions: Iterable[int]) -> None:
        for partition in sorted(partitions):
            await self._drop(partition)
            producer = kafka_client(AIOKafkaProducer, self.settings, enable_idempotence=True,
                                    transactional_id=f"{app_id(self.settings)}-snapshots-{partition}",
                                    linger_ms=5, max_batch_size=256 * 1024)
            try:
                await producer.start()  # InitProducerId: the fence
            except BaseException:
                await _stop(producer)
                raise
            self.producers[partition] = producer
            self.fenced_out.discard(partition)

    async def _drop(self, partition: int) -> None:
        producer = self.producers.pop(partition, None)
        if producer is not None:
            await _stop(producer)

    async def run(self) -> None:
        failed = 0  # rounds in a row that failed: the first is logged, and the one that works again
        try:
            while True:
                try:
                    took = await self.publish_round()
                except KafkaError as exc:
                    # The broker away: every snapshot stays due, and the next round starts new
                    # producers for the partitions whose transaction failed (aiokafka's
                    # transactional sender gives up on a lost connection instead of retrying).
                    self.metrics.task_failures.labels(task="publish_snapshots").inc()
                    if not failed:
                        log.warning("publishing snapshots failed (%r); they stay due, and every round tries "
                                    "again", exc)
                    failed, took = failed + 1, 0.0
                else:
                    if failed:
                        log.warning("publishing snapshots again, after %d failed rounds", failed)
                    failed = 0
                await self.pause(took)
        finally:
            await self.release(list(self.producers))

    def pace(self, began: float, took: float, at_least: float = 0.0) -> float:
        """The loop time at which the next round of a kind is due, when the last one began at
        `began` and took `took` CPU seconds: `at_least` after it, and the busier it was, later."""
        if not took:
            return began + at_least  # nothing was built: no pace to keep
        factor = CATCH_UP_FACTOR if self.catching_up() else BUSY_FACTOR
        return began + max(at_least, (factor + 1) * took)

    async def pause(self, took: float) -> None:
        """Wait until the next state round is due, looking again every interval: the worker may
        have caught up meanwhile."""
        loop = asyncio.get_running_loop()
        began = loop.time() - took
        interval = self.settings.publish_interval_s
        for _ in range(MAX_PAUSE_LOOKS):  # bounded: a round is never put off for good
            left = self.pace(began, took, interval) - loop.time()
            if left <= 0:
                return
            await asyncio.sleep(min(left, interval))

    async def publish_round(self) -> float:
        """The due state snapshots, then the counties' when their pace allows; the seconds the
        states took. A failure leaves everything due again (and is raised): the round's
        snapshots were taken off the dirty marks, and whether the broker has them is unknown.
        Without that, a key whose last snapshot failed (the broker away at the end of a night)
        would never be published again."""
        loop = asyncio.get_running_loop()
        async with self.lock:
            try:
                # A producer dropped after a failure that was not a fence (the broker away): its
                # owned partition gets a new one, once this worker may publish at all.
                missing = self.owned() - self.producers.keys() - self.fenced_out
                if missing and self.may_publish():
                    await self._claim(missing)
                took = await self.publish(self.room.due_state_snapshots)
                began, county_took = self.counties_took
                if loop.time() >= self.pace(began, county_took):
                    began = loop.time()
                    self.counties_took = (began, await self.publish(self.room.due_county_snapshots))
            except Exception:
                self.room.mark_all_dirty()
                raise
        return took

    async def publish(self, due: Callable[[], Iterable[Snapshot]]) -> float:
        """Send every snapshot `due()` gives, one transaction per home partition, and wait until
        they are committed. Returns the CPU seconds spent building and encoding them: the
        worker's own time, which the pacing is about. Not the awaits: while a send waits for
        buffer room or the acks come back, the agent counts, and that time is not publishing's."""
        if not self.may_publish():
            return 0.0
        if self.producers and self.partition_counts.keys() != set(self.topics.values()):
            await self._count_partitions(next(iter(self.producers.values())))
        started = time.perf_counter()
        busy = 0.0
        sent: dict[int, list[asyncio.Future[object]]] = {}
        failures: list[Exception] = []  # raised once every other partition's transaction is ended
        snapshots = iter(due())
        while True:
            # CPU time of this thread, not wall time: on a machine shared with the broker and
            # the feeds, wall time also counts the moments the worker was not running at all,
            # and pacing by it stretched the rounds to seconds under load (bench/README.md).
            # Read once per chunk: a read is a system call (~2 us here), once per snapshot it
            # was a seventh of a catch-up's main thread.
            began = time.thread_time()
            chunk = self._encode_chunk(snapshots)
            busy += time.thread_time() - began
            if not chunk:
                break
            for partition, outgoing in chunk:
                if partition in self.producers:  # not lost earlier in this chunk
                    await self._send(partition, outgoing, sent, failures)
        if sent:
            # Every transaction begun is ended, even when another partition failed: one left
            # open would refuse the next round's begin_transaction.
            for outcome in await asyncio.gather(*(self.commit(p, futures) for p, futures in sent.items())):
                failures.extend(outcome)
            count = sum(len(futures) for futures in sent.values())
            per_snapshot = (time.perf_counter() - started) / count
            for _ in range(count):
                self.metrics.publish_seconds.observe(per_snapshot)
        if failures:
            raise failures[0]
        return busy

    async def _count_partitions(self, producer: AIOKafkaProducer) -> None:
        for topic in self.topics.values():
            self.partition_counts[topic] = len(await producer.partitions_for(topic))

    def _encode_chunk(self, snapshots: Iterator[Snapshot]) -> list[tuple[int, _Outgoing]]:
        """Up to `ENCODE_CHUNK` of the due snapshots, built and encoded, with their home
        partitions; empty when none are left or this worker was found frozen meanwhile (a
        zombie's wake-up: everything is due again, and nothing more of this round goes out)."""
        chunk: list[tuple[int, _Outgoing]] = []
        for snap in snapshots:  # each snapshot is built here
            if not self.may_publish():
                self.room.mark_all_dirty()
                return []
            partition = home_partition(snap.home, self.settings.partitions)
            if partition not in self.producers:
                continue  # fenced out (its new owner publishes it), or failed in this round
            topic, key = self.topics[snap.kind], snap.key.encode()
            # The partition the default partitioner would pick, with the hash cached
            # (streams.kafka.topics.key_hash): aiokafka's own murmur2 is pure Python, per record.
            where = key_hash(key) % self.partition_counts[topic]
            self.snapshot_counters[snap.kind].inc()
            if snap.kind == "state":
                self.note_progress(snap.value)
            chunk.append((partition, _Outgoing(topic, where, key, orjson.dumps(snap.value), snap.counted)))
            if len(chunk) == ENCODE_CHUNK:
                break
        return chunk

    async def _send(self, partition: int, outgoing: _Outgoing, sent: dict[int, list[asyncio.Future[object]]],
                    failures: list[Exception]) -> None:
        """Hand one snapshot to its home partition's producer, in the round's transaction there."""
        producer = self.producers[partition]
        try:
            if partition not in sent:
                await producer.begin_transaction()
                sent[partition] = []
            sent[partition].append(await producer.send(
                outgoing.topic, outgoing.value, outgoing.key, partition=outgoing.partition,
                headers=[(COUNTED_HEADER, b"%d" % outgoing.counted)]))
        except Exception as exc:  # noqa: BLE001 - lost() sorts a fence from the rest
            sent.pop(partition, None)
            failures.extend(await self.lost(partition, exc))

    def note_progress(self, snapshot: dict[str, Any]) -> None:
        key = (snapshot["election_id"], snapshot["race_id"], snapshot["state"], snapshot["mode"])
        self.metrics.race_progress(key, snapshot["pct_expected_counted"], snapshot["precincts_reporting"])

    async def commit(self, partition: int, futures: list[asyncio.Future[object]]) -> list[Exception]:
        """Commit `partition`'s transaction once the broker has its snapshots; the failure, if any."""
        try:
            await asyncio.gather(*futures)
            await self.producers[partition].commit_transaction()
        except Exception as exc:  # noqa: BLE001 - lost() sorts a fence from the rest
            return await self.lost(partition, exc)
        return []

    async def lost(self, partition: int, exc: Exception) -> list[Exception]:
        """A send or commit of `partition` failed. Fenced: another worker claimed it, and this
        one goes dark there (nothing to raise) until `on_fenced` has it claimed again, if the
        group still gives it to this worker. Otherwise the producer is dropped (its
        transaction's state is not known; the next round starts a new one) and `exc` is the
        round's failure."""
        await self._drop(partition)
        if not isinstance(exc, ProducerFenced):
            return [exc]
        log.warning("partition %d: another worker's snapshot producer fenced this one; publishing nothing of it "
                    "until it is claimed again", partition)
        self.fenced_out.add(partition)
        self.on_fenced(partition)
        return []


async def _stop(producer: AIOKafkaProducer) -> None:
    """Close a producer let go of; a broker away or a fenced one must not hold anything up."""
    try:
        await asyncio.wait_for(producer.stop(), STOP_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - it is being let go of either way
        log.debug("closing a snapshot producer: %r", exc)
    # A fenced producer's transaction waiter holds the fence's error (set as its sender stops),
    # which nobody awaits once the producer is let go of: taken here, or asyncio logs it as
    # "never retrieved".
    manager = getattr(producer, "_txn_manager", None)
    waiter = manager.wait_for_transaction_end() if manager is not None else None
    if waiter is not None and waiter.done() and not waiter.cancelled():
        waiter.exception()
