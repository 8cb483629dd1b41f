"""What keeps a worker from publishing stale figures: the freeze fence (a zombie woken after
its session timeout), the hold on a rebuilt partition (an earlier owner may have published
past the committed offset), and everything due again after a failed publish round."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import TopicPartition
from aiokafka.errors import ProducerFenced
from prometheus_client import CollectorRegistry

from streams.contract import PrecinctReport, TallyKey, decode_precinct_record, decode_race_definition
from streams.counting.room import Snapshot
from streams.counting.tally import RaceTally
from streams.settings import Settings
from streams.worker.agents import TallyWorker


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


DEFINITION = {"schema": "race-definition/1", "election_id": "2024-11-05", "race_id": "president", "office": "President",
              "candidates": [{"candidate_id": "a", "name": "A", "party": "DEM"}], "precincts_total": 9,
              "polls_close": "2024-11-05T12:00:00Z", "certified": False}


def _report(key: TallyKey, unit: str, seq: int) -> PrecinctReport:
    value = {"schema": "precinct-result/1", "election_id": key.election_id, "race_id": key.race_id,
             "state": key.state, "county_fips": "10001", "precinct_id": unit, "seq": seq,
             "reported_at": "2024-11-06T00:00:00Z", "votes": {"a": seq}, "complete": False}
    return decode_precinct_record(orjson.dumps(value)).reports[0]


def test_a_rebuilt_tally_is_held_until_it_reaches_the_version_already_published(worker: TallyWorker) -> None:
    key, other = _key_in(worker, 2), _key_in(worker, 1)
    worker.room.book.put_definition(decode_race_definition(orjson.dumps({**DEFINITION, "state": key.state})))
    worker.room.replay_report(_report(key, "p1", 1))  # rebuilt up to the committed offset: seq_sum 2
    worker.hold_back({2}, {key.state_result_key: (5, 4), other.state_result_key: (9, 9)})
    assert worker.is_held(key)
    assert not worker.is_held(other), "not a rebuilt partition's: not held"
    assert list(worker.room.due_state_snapshots()) == []
    assert key in worker.room.dirty, "held, not dropped"
    worker.room.apply_report(_report(key, "p2", 2))  # seq_sum 5, the published version, other figures
    assert worker.is_held(key), "the same version with other figures would be a conflict"
    worker.room.apply_report(_report(key, "p1", 2))  # the records past the commit, counted again: seq_sum 6
    assert not worker.is_held(key)
    [snapshot] = list(worker.room.due_state_snapshots())
    assert snapshot.value["version"] > 5
    assert key.state_result_key not in worker.published, "released for good"


class FailingProducer:
    """A partition's snapshot producer whose sends fail with `error`, or whose commit does."""

    def __init__(self, send_error: Exception | None = None, commit_error: Exception | None = None) -> None:
        self.send_error, self.commit_error = send_error, commit_error
        self.stopped = False
        self.committed = 0

    async def begin_transaction(self) -> None:
        pass

    async def send(self, *args: Any, **kwargs: Any) -> Any:
        if self.send_error is not None:
            raise self.send_error
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def commit_transaction(self) -> None:
        if self.commit_error is not None:
            raise self.commit_error
        self.committed += 1

    async def stop(self) -> None:
        self.stopped = True


def _one_due_snapshot(worker: TallyWorker, key: TallyKey) -> None:
    worker.room.tallies[key] = RaceTally(key)
    worker.room.dirty.add(key)

    def due() -> Iterator[Snapshot]:
        worker.room.dirty.clear()  # as the real one does: taken off the dirty marks
        yield Snapshot("state", key.state_result_key, key.race, {"election_id": "e", "race_id": "r", "state": "S",
                                                                "mode": "live", "pct_expected_counted": None,
                                                                "precincts_reporting": 0})

    worker.room.due_state_snapshots = due  # type: ignore[method-assign]


def test_a_failed_round_leaves_everything_due_again(worker: TallyWorker) -> None:
    key = _key_in(worker, 0)
    _one_due_snapshot(worker, key)
    worker.owned = {0}
    producer = FailingProducer(send_error=ConnectionError("the broker went away"))
    worker.publisher.producers[0] = producer  # type: ignore[assignment]
    with pytest.raises(ConnectionError):
        asyncio.run(worker.publisher.publish_round())
    assert key in worker.room.dirty, "the snapshot that failed to go out is due again"
    assert producer.stopped, "its transaction's state is unknown: replaced"
    assert 0 not in worker.publisher.producers
    assert 0 not in worker.publisher.fenced_out, "not fenced: the next round starts a new producer"


def test_a_failed_partition_leaves_no_other_partitions_transaction_open(worker: TallyWorker) -> None:
    failing_key, good_key = _key_in(worker, 0), _key_in(worker, 1)
    for key in (failing_key, good_key):
        worker.room.tallies[key] = RaceTally(key)

    def due() -> Iterator[Snapshot]:
        for key in (failing_key, good_key):
            yield Snapshot("state", key.state_result_key, key.race, {"election_id": "e", "race_id": "r", "state": "S",
                                                                    "mode": "live", "pct_expected_counted": None,
                                                                    "precincts_reporting": 0})

    worker.room.due_state_snapshots = due  # type: ignore[method-assign]
    worker.owned = {0, 1}
    good = FailingProducer()
    worker.publisher.producers[0] = FailingProducer(send_error=ConnectionError("the broker went away"))  # type: ignore[assignment]
    worker.publisher.producers[1] = good  # type: ignore[assignment]
    with pytest.raises(ConnectionError):
        asyncio.run(worker.publisher.publish_round())
    assert good.committed == 1, "the other partition's transaction was ended, not left open for the next round"
    assert worker.publisher.producers == {1: good}


def test_a_fenced_producer_leaves_its_partition_dark_until_the_group_gives_it_back(worker: TallyWorker) -> None:
    key = _key_in(worker, 0)
    _one_due_snapshot(worker, key)
    worker.owned = {0}
    worker.publisher.producers[0] = FailingProducer(commit_error=ProducerFenced())  # type: ignore[assignment]
    asyncio.run(worker.publisher.publish_round())  # no error: the successor publishes it
    assert worker.publisher.fenced_out == {0}
    assert not worker.publisher.producers
    claimed: list[set[int]] = []
    rebuilt: list[set[int]] = []

    async def claim(partitions: set[int]) -> None:
        claimed.append(set(partitions))

    async def rebuild_from_log(partitions: set[int]) -> None:
        rebuilt.append(set(partitions))

    async def moved_on(kept: object) -> set[int]:
        return set()  # the successor committed nothing: only the fence tells

    worker.publisher.claim = claim  # type: ignore[method-assign]
    worker._rebuild_from_log = rebuild_from_log  # type: ignore[method-assign]
    worker.moved_on = moved_on  # type: ignore[method-assign]

    async def reassigned() -> None:
        await worker.take_assignment(None, {TopicPartition(worker.input_topics[0], 0)}, signal=None)
        assert worker.rebuilding is not None
        await worker.rebuilding

    asyncio.run(reassigned())
    assert claimed == [{0}], "kept, but fenced meanwhile: claimed again"
    assert rebuilt == [{0}]
    assert worker.tallies_ready.is_set()
