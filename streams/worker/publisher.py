"""Publishing the coalesced snapshots: `state-results` and `county-results`, on a producer of its own.

Snapshots are derived state: after a restart every tally is rebuilt and re-published with
the same version, so a snapshot lost in a crash is sent again, and nothing ties snapshot
sends to input offsets. They therefore skip faust's `send_soon` path (~140 us a record here)
for a plain aiokafka producer (~11 us): a national night's catch-up publishes hundreds of
thousands of county snapshots. Idempotent, so retries neither reorder nor repeat a key's
snapshots, and a snapshot with a higher version never lands before a lower one.

Pacing: a round sends at most one snapshot per dirty key, state snapshots first (the
headline figures), then waits the publish interval. When sending takes long (a catch-up,
thousands of dirty counties), the next round of that kind waits at least `BUSY_FACTOR` times
as long, so that publishing takes at most a tenth of the worker's time and counting goes on:
county snapshots then come less often, the states' still every interval or so. In steady
state the interval rules for both. The timer decides *when*;
what a snapshot says depends only on the records (design rule 5).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import orjson
from aiokafka import AIOKafkaProducer

from streams import contract
from streams.security import kafka_connection
from streams.settings import Settings
from streams.worker.counting import Snapshot

if TYPE_CHECKING:
    from streams.worker.agents import TallyWorker

BUSY_FACTOR = 9.0


class SnapshotPublisher:
    def __init__(self, settings: Settings, worker: TallyWorker) -> None:
        self.settings = settings
        self.worker = worker
        self.topics = {"state": settings.topic(contract.STATE_RESULTS),
                       "county": settings.topic(contract.COUNTY_RESULTS)}
        self.next_counties = 0.0  # loop time before which no county round starts

    async def run(self) -> None:
        producer = AIOKafkaProducer(**kafka_connection(self.settings), enable_idempotence=True,
                                    linger_ms=5, max_batch_size=256 * 1024)
        await producer.start()
        try:
            while True:
                took = await self.publish_round(producer)
                await asyncio.sleep(max(self.settings.publish_interval_s - took, BUSY_FACTOR * took))
        finally:
            await producer.stop()

    async def publish_round(self, producer: AIOKafkaProducer) -> float:
        """The due state snapshots, then the counties' when their pace allows; the seconds the
        states took. A failure leaves everything due again (and is raised): the round's
        snapshots were taken off the dirty marks, and whether the broker has them is unknown.
        Without that, a key whose last snapshot failed (the broker away at the end of a night)
        would never be published again."""
        loop = asyncio.get_running_loop()
        try:
            took = await self.publish(producer, self.worker.room.due_state_snapshots)
            if loop.time() >= self.next_counties:
                county_took = await self.publish(producer, self.worker.room.due_county_snapshots)
                self.next_counties = loop.time() + BUSY_FACTOR * county_took
        except Exception:
            self.worker.room.mark_all_dirty()
            raise
        return took

    async def publish(self, producer: AIOKafkaProducer, due: Callable[[], Iterable[Snapshot]]) -> float:
        """Send every snapshot `due()` gives and wait until the broker has them. Returns the
        CPU seconds spent building and encoding them: the worker's own time, which the pacing is
        about. Not the awaits: while a send waits for buffer room or the acks come back, the
        agent counts, and that time is not publishing's."""
        worker = self.worker
        if not worker.may_publish():
            return 0.0
        started = time.perf_counter()
        busy = 0.0
        sent: list[asyncio.Future[object]] = []
        snapshots = iter(due())
        while True:
            # CPU time of this thread, not wall time: on a machine shared with the broker and
            # the feeds, wall time also counts the moments the worker was not running at all,
            # and pacing by it stretched the rounds to seconds under load (bench/README.md).
            began = time.thread_time()
            snap = next(snapshots, None)  # the snapshot is built here
            if snap is not None and not worker.may_publish():  # frozen mid-round (a zombie's wake-up)
                worker.room.mark_all_dirty()
                snap = None
            if snap is None:
                busy += time.thread_time() - began
                break
            value = orjson.dumps(snap.value)
            worker.snapshot_counters[snap.kind].inc()
            if snap.kind == "state":
                worker.note_progress(snap.value)
            busy += time.thread_time() - began
            sent.append(await producer.send(self.topics[snap.kind], value, snap.key.encode()))
        if not sent:
            return busy
        await asyncio.gather(*sent)  # published when the broker has them
        per_snapshot = (time.perf_counter() - started) / len(sent)
        for _ in sent:
            worker.metrics.publish_seconds.observe(per_snapshot)
        return busy
