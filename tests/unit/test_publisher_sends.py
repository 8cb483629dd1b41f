"""What the snapshot publisher hands its producers: every due snapshot, on the partition the
default partitioner would pick for its key, and nothing more once a freeze is found mid-round."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

from aiokafka.partitioner import murmur2
from prometheus_client import CollectorRegistry

from streams.contract import TallyKey
from streams.counting.room import CountingRoom, Snapshot
from streams.counting.tally import RaceTally
from streams.kafka.topics import home_partition
from streams.metrics import worker_metrics
from streams.settings import Settings
from streams.worker import publisher as publisher_module
from streams.worker.publisher import BUSY_FACTOR, CATCH_UP_FACTOR, CatchUp, SnapshotPublisher

PARTITIONS = 3
OUTPUT_PARTITIONS = 5  # another count than the input's: the producer's metadata says it
SETTINGS = Settings(partitions=PARTITIONS)


class RecordingProducer:
    """A partition's snapshot producer that keeps what it was given."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, int | None]] = []
        self.committed = 0

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(OUTPUT_PARTITIONS))

    async def begin_transaction(self) -> None:
        pass

    async def send(self, topic: str, value: bytes, key: bytes, partition: int | None = None, **_: Any) -> Any:
        self.sent.append((topic, key, partition))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def commit_transaction(self) -> None:
        self.committed += 1


def _snapshots(count: int) -> list[Snapshot]:
    keys = [TallyKey("e", f"race-{i}", "MN", "live") for i in range(count)]
    return [Snapshot("state", k.state_result_key, k.home, {"election_id": "e", "race_id": k.race_id, "state": "MN",
                                                           "mode": "live", "pct_expected_counted": None,
                                                           "precincts_reporting": 0}, 1) for k in keys]


def _publisher(may_publish: Any = lambda: True) -> tuple[SnapshotPublisher, RecordingProducer]:
    snapshots = SnapshotPublisher(SETTINGS, CountingRoom(), lambda: set(range(PARTITIONS)), may_publish,
                                  worker_metrics(CollectorRegistry()))
    producer = RecordingProducer()
    snapshots.producers[home_partition("e/MN", PARTITIONS)] = producer  # type: ignore[assignment]
    return snapshots, producer


def test_every_due_snapshot_goes_out_on_its_keys_default_partition() -> None:
    due = _snapshots(publisher_module.ENCODE_CHUNK * 2 + 3)  # chunks, and a part of one
    snapshots, producer = _publisher()
    asyncio.run(snapshots.publish(lambda: iter(due)))
    assert [key for _, key, _ in producer.sent] == [s.key.encode() for s in due]
    for _, key, partition in producer.sent:
        assert partition == (murmur2(key) & 0x7FFFFFFF) % OUTPUT_PARTITIONS
    assert producer.committed == 1


def test_a_freeze_found_mid_round_sends_nothing_more_and_leaves_everything_due() -> None:
    asks = iter(range(10_000))
    frozen_at = 5  # may_publish: once at the start of the round, then once per snapshot built

    def may_publish() -> bool:
        return next(asks) < frozen_at

    snapshots, producer = _publisher(may_publish)
    key = TallyKey("e", "race-0", "MN", "live")
    snapshots.room.tallies[key] = RaceTally(key)

    def due() -> Iterator[Snapshot]:
        yield from _snapshots(20)

    asyncio.run(snapshots.publish(due))
    assert producer.sent == [], "the chunk built before the freeze was found is not sent by a zombie"
    assert key in snapshots.room.dirty, "everything due again"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_catching_up_is_more_input_waiting_than_the_agent_takes_in_two_seconds() -> None:
    clock, taken, waiting = Clock(), [0], [5_000]
    catching_up = CatchUp(lambda: waiting[0], lambda: taken[0], clock)
    assert catching_up(), "no pace measured yet, and thousands waiting"
    clock.now += 1.0
    taken[0] += 1_000  # 1,000 records a second
    assert catching_up(), "5 s of input waiting"
    waiting[0] = 1_500
    assert not catching_up(), "1.5 s of input waiting: live, a fetch or so behind"
    waiting[0] = 50
    clock.now += 10.0  # a quiet spell: no pace
    assert not catching_up(), "a burst after a quiet spell is not a catch-up"


def test_a_pause_put_off_by_a_catch_up_ends_at_the_busy_pace_once_caught_up() -> None:
    interval, took = 0.02, 0.02
    looks: list[None] = []

    def catching_up() -> bool:
        looks.append(None)
        return len(looks) < 3

    snapshots = SnapshotPublisher(Settings(partitions=PARTITIONS, publish_interval_s=interval), CountingRoom(),
                                  set, lambda: True, worker_metrics(CollectorRegistry()), catching_up=catching_up)
    began = time.monotonic()
    asyncio.run(snapshots.pause(took))
    waited = time.monotonic() - began
    # Caught up on the third look: the busy pace, (BUSY_FACTOR + 1) x took from the round's
    # start; the catch-up's would have been (CATCH_UP_FACTOR + 1) x took, a second.
    assert BUSY_FACTOR * took * 0.9 < waited < (CATCH_UP_FACTOR + 1) * took * 0.6
    assert len(looks) >= 3
