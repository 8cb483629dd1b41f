"""The snapshot producers' fence on the real broker: a worker that gains a home partition
starts that partition's transactional producer, and the broker then refuses whatever the
earlier owner still sends for it, mid-transaction or in a later round (the zombie that wakes
from a SIGSTOP with snapshots in its buffer, streams.worker.publisher)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiokafka.errors import ProducerFenced
from prometheus_client import CollectorRegistry

from streams import contract
from streams.contract import TallyKey
from streams.counting.room import Snapshot
from streams.settings import Settings
from streams.worker.agents import TallyWorker
from tests.integration.harness import ensure_worker_topics, read_topic, run

KEY = TallyKey("2024-11-05", "president", "MN", "live")


def _worker(settings: Settings) -> TallyWorker:
    worker = TallyWorker(settings, CollectorRegistry())
    worker.book_ready.set()
    worker.tallies_ready.set()
    worker.owned = {worker.home_partition(KEY.home)}
    worker.room.tally_for(KEY)
    return worker


def _snapshot(version: int) -> Snapshot:
    return Snapshot("state", KEY.state_result_key, KEY.home,
                    {"election_id": KEY.election_id, "race_id": KEY.race_id, "state": KEY.state, "mode": KEY.mode,
                     "version": version, "pct_expected_counted": None, "precincts_reporting": 0}, version)


def _due(worker: TallyWorker, version: int) -> None:
    """Make the next round publish one state snapshot of `version`."""
    def due() -> Iterator[Snapshot]:
        yield _snapshot(version)

    worker.room.due_state_snapshots = due  # type: ignore[method-assign]
    worker.room.due_county_snapshots = lambda: iter(())  # type: ignore[method-assign]


def _zombie_and_successor(settings: Settings) -> tuple[TallyWorker, TallyWorker, int]:
    """Two workers that both believe they own KEY's partition (the zombie first), on fresh topics."""
    run(ensure_worker_topics(settings))
    zombie, successor = _worker(settings), _worker(settings)
    return zombie, successor, zombie.home_partition(KEY.home)


def _published_versions(settings: Settings) -> list[int]:
    return [r.value["version"] for r in run(read_topic(settings, contract.STATE_RESULTS))
            if r.key == KEY.state_result_key]


def test_a_successor_fences_the_earlier_owners_snapshot_producer(settings: Settings) -> None:
    zombie, successor, partition = _zombie_and_successor(settings)
    topic = settings.topic(contract.STATE_RESULTS)

    async def night() -> None:
        await zombie.publisher.claim({partition})
        _due(zombie, 1)
        await zombie.publisher.publish_round()
        # The zombie is mid-round when it freezes: its transaction is open, one snapshot out.
        producer = zombie.publisher.producers[partition]
        await producer.begin_transaction()
        await (await producer.send(topic, b'{"version": 2}', KEY.state_result_key.encode()))
        # Its successor takes the partition: the fence, then its own newer snapshot.
        await successor.publisher.claim({partition})
        _due(successor, 3)
        await successor.publisher.publish_round()
        # The zombie wakes and sends on: refused, in its open transaction and in a new round.
        with pytest.raises(ProducerFenced):
            await (await producer.send(topic, b'{"version": 4}', KEY.state_result_key.encode()))
        await zombie.publisher.release({partition})
        await successor.publisher.release({partition})

    run(night())
    assert _published_versions(settings) == [1, 2, 3], \
        "the zombie's open transaction was aborted with its snapshot before the fence; nothing of it after"


def test_a_fenced_worker_goes_dark_on_that_partition_and_raises_nothing(settings: Settings) -> None:
    zombie, successor, partition = _zombie_and_successor(settings)
    zombie.app.rebalancing = True  # the zombie is learning it lost the partition: it does not fence back

    async def night() -> None:
        await zombie.publisher.claim({partition})
        await successor.publisher.claim({partition})
        _due(zombie, 7)  # a round it built from stale tallies
        await zombie.publisher.publish_round()
        assert zombie.publisher.fenced_out == {partition}
        assert partition not in zombie.publisher.producers
        _due(zombie, 8)
        await zombie.publisher.publish_round()  # dark: no new producer, nothing sent
        assert partition not in zombie.publisher.producers
        _due(successor, 5)
        await successor.publisher.publish_round()
        await successor.publisher.release({partition})

    run(night())
    assert _published_versions(settings) == [5]


def test_a_fence_found_on_a_partition_still_owned_is_claimed_again_at_once(settings: Settings) -> None:
    """The group gave the partition back to the worker a successor had fenced: its first round
    finds the fence, and it claims the partition again at once (rebuilding it), instead of
    staying dark until some unrelated rebalance."""
    zombie, successor, partition = _zombie_and_successor(settings)

    async def night() -> None:
        await zombie.publisher.claim({partition})
        await successor.publisher.claim({partition})
        await successor.publisher.release({partition})  # the successor lost it again, to the zombie
        _due(zombie, 7)
        await zombie.publisher.publish_round()  # fenced: refused, and the claim scheduled
        assert zombie.rebuilding is not None, "dark until an unrelated rebalance"
        await zombie.rebuilding
        assert partition in zombie.publisher.producers
        _due(zombie, 8)
        await zombie.publisher.publish_round()
        await zombie.publisher.release({partition})

    run(night())
    assert _published_versions(settings) == [8]
