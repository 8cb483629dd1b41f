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
from prometheus_client import CollectorRegistry

from streams.contract import PrecinctReport, TallyKey, decode_precinct_record, decode_race_definition
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
