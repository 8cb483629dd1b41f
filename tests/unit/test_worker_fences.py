"""What keeps a worker from publishing stale figures: the freeze fence (a zombie woken after
its session timeout), the hold on a rebuilt partition (an earlier owner may have published
past the committed offset), and everything due again after a failed publish round."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry

from streams.contract import TallyKey
from streams.settings import Settings
from streams.tally import RaceTally
from streams.worker.agents import TallyWorker
from streams.worker.counting import Snapshot


@pytest.fixture
def worker(tmp_path: Path) -> TallyWorker:
    tally = TallyWorker(Settings(data_dir=str(tmp_path), session_timeout_s=6.0, partitions=4), CollectorRegistry())
    tally.book_ready.set()
    tally.tallies_ready.set()
    return tally


def test_a_loop_away_past_the_session_timeout_fences_publishing(worker: TallyWorker) -> None:
    async def frozen() -> tuple[bool, bool]:
        loop = asyncio.get_running_loop()
        worker.alive_at = loop.time()
        before = worker.may_publish()
        worker.alive_at = loop.time() - 12.0  # as if SIGSTOPped for 12 s
        return before, worker.may_publish()

    assert asyncio.run(frozen()) == (True, False)
    assert worker.fenced


def test_a_short_stall_does_not_fence(worker: TallyWorker) -> None:
    async def stalled() -> bool:
        worker.alive_at = asyncio.get_running_loop().time() - 2.0  # busy, not frozen
        return worker.may_publish()

    assert asyncio.run(stalled())
    assert not worker.fenced


def test_the_fence_lifts_when_no_rebalance_came(worker: TallyWorker) -> None:
    worker.fenced = True
    worker.app.rebalancing = False
    worker.lift_fence(getattr(worker.app, "consumer_generation_id", None))
    assert not worker.fenced


def test_the_fence_stays_while_the_group_moves(worker: TallyWorker) -> None:
    worker.fenced = True
    worker.app.rebalancing = True
    worker.lift_fence(getattr(worker.app, "consumer_generation_id", None))
    assert worker.fenced, "the assignment's rebuild lifts it, not the timer"


def _key_in(worker: TallyWorker, partition: int) -> TallyKey:
    for state in ("CA", "PA", "NV", "MI", "WI", "AZ", "GA", "TX", "NY", "FL", "OH"):
        key = TallyKey("2024-11-05", "president", state, "live")
        if worker.home_partition(key.race) == partition:
            return key
    raise AssertionError(f"no state of the list lives in partition {partition}")


def test_a_rebuilt_partition_is_held_until_the_agent_reaches_the_log_end(worker: TallyWorker) -> None:
    key = _key_in(worker, 2)
    topic = worker.input_topics[0]
    worker.positions[(topic, 2)] = 40  # rebuilt up to the committed offset
    worker.hold_back({TopicPartition(topic, 2): 55, TopicPartition(worker.input_topics[1], 2): 0})
    assert worker.is_held(key)
    assert not worker.is_held(_key_in(worker, 1))
    worker.positions[(topic, 2)] = 54
    worker.release_held(2)
    assert worker.is_held(key), "one record short of what an earlier owner may have published from"
    worker.positions[(topic, 2)] = 55
    worker.release_held(2)
    assert not worker.is_held(key)


def test_held_tallies_stay_dirty_and_go_out_once_released(worker: TallyWorker) -> None:
    key = _key_in(worker, 3)
    worker.room.tallies[key] = RaceTally(key)
    worker.room.dirty.add(key)
    worker.held_partitions.add(3)
    assert list(worker.room.due_state_snapshots()) == []
    assert key in worker.room.dirty, "held, not dropped"
    worker.held_partitions.clear()
    list(worker.room.due_state_snapshots())  # no definition: embargoed, but taken off the dirty set
    assert key not in worker.room.dirty


class FailingProducer:
    async def send(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("the broker went away")


def test_a_failed_round_leaves_everything_due_again(worker: TallyWorker) -> None:
    key = _key_in(worker, 0)
    worker.room.tallies[key] = RaceTally(key)
    worker.room.dirty.add(key)

    def due() -> Iterator[Snapshot]:
        worker.room.dirty.clear()  # as the real one does: taken off the dirty marks
        yield Snapshot("county", "k", {})

    worker.room.due_state_snapshots = due  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        asyncio.run(worker.publisher.publish_round(FailingProducer()))  # type: ignore[arg-type]
    assert key in worker.room.dirty, "the snapshot that failed to go out is due again"
