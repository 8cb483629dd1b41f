"""What keeps a worker from publishing stale figures: the freeze fence (a zombie woken after
its session timeout), the hold on a rebuilt partition (an earlier owner may have published
past the committed offset), and everything due again after a failed publish round.

Each part is built alone with the collaborators it is given; only the last test, a
reassignment, needs the whole `TallyWorker` and its faust app."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiokafka import TopicPartition
from aiokafka.errors import ProducerFenced
from prometheus_client import CollectorRegistry

from streams.contract import PrecinctReport, TallyKey, decode_precinct_record, decode_race_definition
from streams.counting.holds import Floor, Holds, home_of
from streams.counting.room import CountingRoom, Snapshot
from streams.kafka.topics import home_partition
from streams.metrics import worker_metrics
from streams.settings import Settings
from streams.worker.agents import TallyWorker, kafka_time_ms
from streams.worker.fence import FreezeFence
from streams.worker.outbox import Send
from streams.worker.publisher import SnapshotPublisher
from streams.worker.rebuild import _take_record, published_floor

PARTITIONS = 4
SETTINGS = Settings(session_timeout_s=6.0, partitions=PARTITIONS)


def home(race: str) -> int:
    return home_partition(race, PARTITIONS)


def fence(rebalancing: bool = False) -> FreezeFence:
    app = SimpleNamespace(rebalancing=rebalancing, consumer_generation_id=7)
    return FreezeFence(app, SETTINGS.session_timeout_s, settled=lambda: True, on_lift=lambda: None)


def publisher(room: CountingRoom, owned: set[int]) -> SnapshotPublisher:
    return SnapshotPublisher(SETTINGS, room, lambda: owned, lambda: True, worker_metrics(CollectorRegistry()))


@pytest.fixture
def worker(tmp_path: Path) -> TallyWorker:
    tally = TallyWorker(Settings(data_dir=str(tmp_path), session_timeout_s=6.0, partitions=PARTITIONS),
                        CollectorRegistry())
    tally.book_ready.set()
    tally.tallies_ready.set()
    return tally


def test_a_loop_away_past_the_session_timeout_fences_publishing() -> None:
    watch = fence()

    async def frozen() -> tuple[bool, bool]:
        loop = asyncio.get_running_loop()
        watch.alive_at = loop.time()
        watch.check_freeze()
        before = watch.fenced
        watch.alive_at = loop.time() - 12.0  # as if SIGSTOPped for 12 s
        watch.check_freeze()
        return before, watch.fenced

    assert asyncio.run(frozen()) == (False, True)


def test_a_fenced_worker_may_not_publish(worker: TallyWorker) -> None:
    async def frozen() -> tuple[bool, bool]:
        loop = asyncio.get_running_loop()
        worker.fence.alive_at = loop.time()
        before = worker.may_publish()
        worker.fence.alive_at = loop.time() - 12.0
        return before, worker.may_publish()

    assert asyncio.run(frozen()) == (True, False)


def test_a_short_stall_does_not_fence() -> None:
    watch = fence()

    async def stalled() -> None:
        watch.alive_at = asyncio.get_running_loop().time() - 2.0  # busy, not frozen
        watch.check_freeze()

    asyncio.run(stalled())
    assert not watch.fenced


def test_the_fence_lifts_when_no_rebalance_came() -> None:
    lifted: list[bool] = []
    watch = FreezeFence(SimpleNamespace(rebalancing=False, consumer_generation_id=7), 6.0, settled=lambda: True,
                        on_lift=lambda: lifted.append(True))
    watch.fenced = True
    watch.lift_fence(7)
    assert not watch.fenced
    assert lifted, "everything due again: a round may have been cut short by the freeze"


def test_the_fence_stays_while_the_group_moves() -> None:
    watch = fence(rebalancing=True)
    watch.fenced = True
    watch.lift_fence(7)
    assert watch.fenced, "the assignment's rebuild lifts it, not the timer"


def test_the_fence_stays_while_a_rebuild_runs() -> None:
    watch = FreezeFence(SimpleNamespace(rebalancing=False, consumer_generation_id=7), 6.0, settled=lambda: False,
                        on_lift=lambda: None)
    watch.fenced = True
    watch.lift_fence(7)
    assert watch.fenced, "the rebuild's end lifts it"


def _key_in(partition: int) -> TallyKey:
    for state in ("CA", "PA", "NV", "MI", "WI", "AZ", "GA", "TX", "NY", "FL", "OH"):
        key = TallyKey("2024-11-05", "president", state, "live")
        if home(key.home) == partition:
            return key
    raise AssertionError(f"no state of the list lives in partition {partition}")


DEFINITION = {"schema": "race-definition/1", "election_id": "2024-11-05", "race_id": "president", "office": "President",
              "candidates": [{"candidate_id": "a", "name": "A", "party": "DEM"}], "precincts_total": 9,
              "polls_close": "2024-11-05T12:00:00Z", "certified": False}


KAFKA_MS = 1_730_851_200_000  # 2024-11-06T00:00:00Z, when the reports below say they were made


def _report(key: TallyKey, unit: str, seq: int) -> PrecinctReport:
    value = {"schema": "precinct-result/1", "election_id": key.election_id, "race_id": key.race_id,
             "state": key.state, "county_fips": "10001", "precinct_id": unit, "seq": seq,
             "reported_at": "2024-11-06T00:00:00Z", "votes": {"a": seq}, "complete": False}
    return decode_precinct_record(orjson.dumps(value)).reports[0]


def test_a_rebuilt_tally_is_held_until_it_reaches_the_version_already_published() -> None:
    room = CountingRoom()
    holds = Holds(room, home)
    key, other = _key_in(2), _key_in(1)
    room.book.put_definition(decode_race_definition(orjson.dumps({**DEFINITION, "state": key.state})))
    room.replay_report(_report(key, "p1", 1), KAFKA_MS)  # rebuilt up to the committed offset: seq_sum 2
    holds.hold_back({2}, {key.state_result_key: Floor(5, 4, 5), other.state_result_key: Floor(9, 9, 9)})
    assert holds.is_held(key)
    assert not holds.is_held(other), "not a rebuilt partition's: not held"
    assert list(room.due_state_snapshots()) == []
    assert key in room.dirty, "held, not dropped"
    room.apply_record([_report(key, "p2", 2)], KAFKA_MS)  # seq_sum 5, the published version, other figures
    assert holds.is_held(key), "the same version with other figures would be a conflict"
    room.apply_record([_report(key, "p1", 2)], KAFKA_MS)  # the records past the commit, counted again: seq_sum 6
    assert not holds.is_held(key)
    [snapshot] = list(room.due_state_snapshots())
    assert snapshot.value["version"] > 5
    assert key.state_result_key not in holds.published, "released for good"


class FailingProducer:
    """A partition's snapshot producer whose sends fail with `error`, or whose commit does."""

    def __init__(self, send_error: Exception | None = None, commit_error: Exception | None = None) -> None:
        self.send_error, self.commit_error = send_error, commit_error
        self.stopped = False
        self.committed = 0

    async def begin_transaction(self) -> None:
        pass

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(PARTITIONS))

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


def _one_due_snapshot(room: CountingRoom, key: TallyKey) -> None:
    room.tally_for(key)
    room.dirty.add(key)

    def due() -> Iterator[Snapshot]:
        room.dirty.clear()  # as the real one does: taken off the dirty marks
        yield Snapshot("state", key.state_result_key, key.home, {"election_id": "e", "race_id": "r", "state": "S",
                                                                "mode": "live", "pct_expected_counted": None,
                                                                "precincts_reporting": 0}, 0)

    room.due_state_snapshots = due  # type: ignore[method-assign]


def test_a_failed_round_leaves_everything_due_again() -> None:
    room, key = CountingRoom(), _key_in(0)
    _one_due_snapshot(room, key)
    snapshots = publisher(room, owned={0})
    producer = FailingProducer(send_error=ConnectionError("the broker went away"))
    snapshots.producers[0] = producer  # type: ignore[assignment]
    with pytest.raises(ConnectionError):
        asyncio.run(snapshots.publish_round())
    assert key in room.dirty, "the snapshot that failed to go out is due again"
    assert producer.stopped, "its transaction's state is unknown: replaced"
    assert 0 not in snapshots.producers
    assert 0 not in snapshots.fenced_out, "not fenced: the next round starts a new producer"


def test_a_failed_partition_leaves_no_other_partitions_transaction_open() -> None:
    room = CountingRoom()
    failing_key, good_key = _key_in(0), _key_in(1)
    for key in (failing_key, good_key):
        room.tally_for(key)

    def due() -> Iterator[Snapshot]:
        for key in (failing_key, good_key):
            yield Snapshot("state", key.state_result_key, key.home, {"election_id": "e", "race_id": "r", "state": "S",
                                                                    "mode": "live", "pct_expected_counted": None,
                                                                    "precincts_reporting": 0}, 0)

    room.due_state_snapshots = due  # type: ignore[method-assign]
    snapshots = publisher(room, owned={0, 1})
    good = FailingProducer()
    snapshots.producers[0] = FailingProducer(send_error=ConnectionError("the broker went away"))  # type: ignore[assignment]
    snapshots.producers[1] = good  # type: ignore[assignment]
    with pytest.raises(ConnectionError):
        asyncio.run(snapshots.publish_round())
    assert good.committed == 1, "the other partition's transaction was ended, not left open for the next round"
    assert snapshots.producers == {1: good}


def _record_claims_and_rebuilds(worker: TallyWorker) -> tuple[list[set[int]], list[set[int]]]:
    """Stand-ins for the broker's part of a rebuild: what was claimed, what was rebuilt."""
    claimed: list[set[int]] = []
    rebuilt: list[set[int]] = []

    async def claim(partitions: set[int]) -> None:
        claimed.append(set(partitions))

    async def rebuild_from_log(partitions: set[int], *args: object) -> None:
        rebuilt.append(set(partitions))

    async def moved_on(kept: object) -> set[int]:
        return set()  # nobody committed past this worker: only the fence tells

    worker.publisher.claim = claim  # type: ignore[method-assign]
    worker._rebuild_from_log = rebuild_from_log  # type: ignore[method-assign]
    worker.moved_on = moved_on  # type: ignore[method-assign]
    return claimed, rebuilt


def test_a_fence_found_while_the_group_moves_leaves_the_partition_dark_until_the_assignment(
        worker: TallyWorker) -> None:
    """A zombie that does not know it yet must not fence its successor back: while the group is
    rebalancing the assignment decides, and its rebuild claims a kept partition found fenced."""
    key = _key_in(0)
    _one_due_snapshot(worker.room, key)
    worker.owned = {0}
    worker.publisher.producers[0] = FailingProducer(commit_error=ProducerFenced())  # type: ignore[assignment]
    worker.app.rebalancing = True
    asyncio.run(worker.publisher.publish_round())  # no error: the successor publishes it
    assert worker.rebuilding is None, "not claimed back while the group moves"
    assert worker.publisher.fenced_out == {0}
    assert not worker.publisher.producers
    worker.app.rebalancing = False
    claimed, rebuilt = _record_claims_and_rebuilds(worker)

    async def reassigned() -> None:
        await worker.take_assignment(None, {TopicPartition(worker.input_topics[0], 0)}, signal=None)
        assert worker.rebuilding is not None
        await worker.rebuilding

    asyncio.run(reassigned())
    assert claimed == [{0}], "kept, but fenced meanwhile: claimed again"
    assert rebuilt == [{0}]
    assert worker.tallies_ready.is_set()


def test_a_fence_found_on_a_partition_the_group_gave_this_worker_is_claimed_again_at_once(
        worker: TallyWorker) -> None:
    """The group gave partition 0 back (this worker's assignment is current, no freeze fence),
    but another worker's producer fenced this one's meanwhile: the first round finds it. Waiting
    for some later rebalance would leave the partition counted and committed, never published."""
    key = _key_in(0)
    _one_due_snapshot(worker.room, key)
    worker.owned = {0}
    worker.publisher.producers[0] = FailingProducer(commit_error=ProducerFenced())  # type: ignore[assignment]
    claimed, rebuilt = _record_claims_and_rebuilds(worker)

    async def round_then_rebuild() -> None:
        await worker.publisher.publish_round()
        assert worker.rebuilding is not None, "no claim scheduled: dark until an unrelated rebalance"
        await worker.rebuilding

    asyncio.run(round_then_rebuild())
    assert claimed == [{0}], "claimed again at once"
    assert rebuilt == [{0}], "another worker counted it meanwhile: rebuilt, its holds read again"
    assert worker.tallies_ready.is_set()


def test_a_worker_woken_from_a_freeze_claims_its_kept_partitions_again(worker: TallyWorker) -> None:
    """Frozen past its session timeout, the worker may have lost every partition and been given
    them back without seeing it: a successor may have claimed them (fencing this worker's
    producers) and counted records it never committed. Kept partitions are claimed and rebuilt."""
    worker.owned = {0, 1}
    worker.fence.fenced = True
    claimed, rebuilt = _record_claims_and_rebuilds(worker)
    tps = {TopicPartition(worker.input_topics[0], 0), TopicPartition(worker.input_topics[0], 1)}

    async def reassigned() -> None:
        await worker.take_assignment(None, tps, signal=None)
        assert worker.rebuilding is not None
        await worker.rebuilding

    asyncio.run(reassigned())
    assert claimed == [{0, 1}]
    assert rebuilt == [{0, 1}]
    assert not worker.fence.fenced


def test_a_result_keys_home_is_its_state_key_even_with_a_slash_in_the_race_id() -> None:
    assert home_of("2024-11-05/house/MN-01/MN/live", 1) == "2024-11-05/MN"
    assert home_of("2024-11-05/house/MN-01/MN/27053/test", 2) == "2024-11-05/MN"
    assert TallyKey("2024-11-05", "house/MN-01", "MN", "live").home == "2024-11-05/MN"


def _precinct_message(worker: TallyWorker, key: bytes, value: bytes, on: str) -> SimpleNamespace:
    return SimpleNamespace(topic="precinct-results", partition=worker.home_partition(on), offset=0, key=key,
                           value=value, timestamp=KAFKA_MS / 1000.0)  # faust's seconds


def test_every_race_of_a_state_is_tallied_on_its_state_keys_home(worker: TallyWorker) -> None:
    """Design rule 3: a record keyed the older way (its race key) goes round once to the state's home."""
    sent: list[Send] = []
    worker.outbox.send = lambda send, receipt=None: sent.append(send)  # type: ignore[method-assign]  # a stand-in
    value = orjson.dumps({"schema": "precinct-result/1", "election_id": "2024-11-05", "race_id": "senate",
                          "state": "CA", "county_fips": "06001", "precinct_id": "p1", "seq": 0,
                          "reported_at": "2024-11-06T00:00:00Z", "votes": {"a": 1}, "complete": False})
    worker.take_precinct_record(_precinct_message(worker, b"2024-11-05/senate/CA", value, on="2024-11-05/CA"))
    assert sent == [Send(worker.topics.rekeyed, b"2024-11-05/CA", value,
                         partition=worker.home_partition("2024-11-05/CA"), timestamp=KAFKA_MS / 1000.0)]
    assert worker.room.tallies == {}
    worker.take_precinct_record(_precinct_message(worker, b"2024-11-05/CA", value, on="2024-11-05/CA"))
    assert list(worker.room.tallies) == [TallyKey("2024-11-05", "senate", "CA", "live")]
    assert len(sent) == 1


def test_a_re_emitted_definition_does_not_release_a_tally_short_of_the_published_count(worker: TallyWorker) -> None:
    """Issue 18 item 5: the version also rises with the definition's revision, so a rebuilt
    tally under a definition re-emitted since (a higher offset) passed the published version
    with fewer reports counted, and published a lower total under a higher version."""
    room, holds, key = worker.room, worker.holds, _key_in(2)
    definition = decode_race_definition(orjson.dumps({**DEFINITION, "state": key.state}))
    worker.book_reader.take_definition(definition, offset=0)
    room.replay_report(_report(key, "p1", 1), KAFKA_MS)  # rebuilt up to the committed offset: 1 vote, seq_sum 2
    # An earlier owner had counted p1 at seq 4 (seq_sum 5, 4 votes) and published it at version 5.
    holds.hold_back({2}, {key.state_result_key: Floor(5, 4, 5)})
    worker.book_reader.take_definition(definition, offset=40)  # the desk re-sent it: revision 40
    assert holds.is_held(key), "1 vote counted, 4 published: releasing it takes the count back"
    assert list(room.due_state_snapshots()) == []
    room.apply_record([_report(key, "p1", 4)], KAFKA_MS)  # the records past the commit come again
    assert not holds.is_held(key)
    [snapshot] = list(room.due_state_snapshots())
    assert (snapshot.value["total_votes"], snapshot.value["version"]) == (4, 5 + 40)


def test_a_published_snapshot_tells_what_it_counted_in_a_header() -> None:
    """The holds read it back (item 5); a snapshot of an older votewire has no header."""
    value = orjson.dumps({"version": 47, "total_votes": 4})
    with_header = SimpleNamespace(value=value, headers=[("votewire-counted", b"5")])
    assert published_floor(with_header) == Floor(47, 4, 5)
    assert published_floor(SimpleNamespace(value=value, headers=[])) == Floor(47, 4, None)


def test_the_agent_and_the_rebuild_take_the_same_kafka_time_for_a_record() -> None:
    """faust gives seconds, aiokafka milliseconds: both must come to the same embargo decision."""
    key = _key_in(1)
    report = _report(key, "p1", 1)
    value = orjson.dumps({"schema": "precinct-result/1", "election_id": key.election_id, "race_id": key.race_id,
                          "state": key.state, "county_fips": "10001", "precinct_id": "p1", "seq": 1,
                          "reported_at": "2024-11-06T00:00:00Z", "votes": {"a": 1}, "complete": False})
    taken: list[tuple[str, int | None]] = []
    rebuild_record = SimpleNamespace(value=value, key=key.race.encode(), partition=1, timestamp=1_730_858_400_123)
    _take_record(rebuild_record, lambda r, kafka_ms: taken.append((r.precinct_id, kafka_ms)), lambda *_: True)
    assert taken == [(report.precinct_id, 1_730_858_400_123)]
    assert kafka_time_ms(1_730_858_400_123 / 1000.0) == 1_730_858_400_123  # faust's Message.timestamp
