"""A rebalance that arrives while a worker rebuilds a big partition, on the real broker: the
worker's agent holds a fresh record while it waits for the rebuild, and faust's rebalance waits
for every record held (`wait_empty`). Held for the whole rebuild, the revocation outlasts the
rebalance timeout and the member is evicted; the agent lets the record go instead (not acked,
so it is taken again after the rebalance), and the group settles at once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams import contract
from streams.kafka.clients import kafka_client
from streams.kafka.topics import ensure_topics, home_partition
from streams.localkafka.kafka_local import free_port
from streams.settings import Settings
from streams.worker.app import app_id
from tests.integration.harness import (
    latest_by_key,
    read_topic,
    run,
    votewire_env,
    votewire_process,
    wait_for,
)

STATES = ("PA", "MN")  # whose keys live in the two partitions (checked below)
RECORDS_PER_STATE = 250_000  # a rebuild of 10 to 60 s here, longer than b takes to join
DEFINITION = {"schema": "race-definition/1", "election_id": "2024-11-05", "race_id": "house", "office": "House",
              "precincts_total": RECORDS_PER_STATE, "polls_close": "2024-11-06T02:00:00Z", "certified": False,
              "candidates": [{"candidate_id": "a", "name": "A", "party": "DFL"}]}


def report(state: str, unit: int, votes: int) -> bytes:
    return orjson.dumps({"schema": "precinct-result/1", "election_id": "2024-11-05", "race_id": "house",
                         "state": state, "county_fips": "27053", "precinct_id": f"p{unit}", "seq": votes,
                         "reported_at": "2024-11-06T03:00:00Z", "votes": {"a": votes}, "complete": True})


async def send_reports(settings: Settings, units: range, votes: int) -> None:
    producer = kafka_client(AIOKafkaProducer, settings, acks="all", linger_ms=20)
    await producer.start()
    try:
        futures = []
        for state in STATES:
            futures.append(await producer.send(settings.topic(contract.RACE_DEFINITIONS),
                                               orjson.dumps({**DEFINITION, "state": state}),
                                               f"2024-11-05/house/{state}".encode()))
            for unit in units:
                futures.append(await producer.send(settings.topic(contract.PRECINCT_RESULTS),
                                                   report(state, unit, votes), f"2024-11-05/{state}".encode(),
                                                   partition=home_partition(f"2024-11-05/{state}", 2)))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def commit_the_night(settings: Settings) -> None:
    """Commit the group's offsets at the partitions' ends, as a worker that counted them would:
    the next worker rebuilds up to there (no need to count it first)."""
    consumer = kafka_client(AIOKafkaConsumer, settings, group_id=app_id(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(settings.topic(contract.PRECINCT_RESULTS), p) for p in range(2)]
        consumer.assign(tps)
        await consumer.commit(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


def test_a_rebalance_during_a_long_rebuild_does_not_wait_for_it(settings: Settings, tmp_path: Path) -> None:
    assert {home_partition(f"2024-11-05/{s}", 2) for s in STATES} == {0, 1}
    run(ensure_topics(settings))
    run(send_reports(settings, range(RECORDS_PER_STATE), 1), deadline_s=600)
    run(commit_the_night(settings))
    run(send_reports(settings, range(10), 2))  # fresh records, past the commit: the agent holds one
    quiet = {"VOTEWIRE_CHECKPOINT_INTERVAL_S": "0", "VOTEWIRE_REBALANCE_TIMEOUT_S": "10"}  # rebuilt from the log
    log_a = tmp_path / "a.log"
    env = votewire_env(settings, VOTEWIRE_WORKER_WEB_ADDR=f"127.0.0.1:{free_port()}", **quiet)
    log_b = tmp_path / "b.log"
    with votewire_process(["worker"], env, log_a) as a:
        # b starts as a joins (its own start takes seconds: a is assigned first) and joins while a
        # rebuilds both partitions (seconds to tens of seconds here)
        wait_for(lambda: JOINING in text(log_a), 120, every_s=0.1, what="a joining", alive=a)
        env_b = {**env, "VOTEWIRE_WORKER_WEB_ADDR": f"127.0.0.1:{free_port()}"}
        with votewire_process(["worker"], env_b, log_b) as b:
            wait_for(lambda: JOINING in text(log_b), 120, every_s=0.2, what="b joining", alive=b)
            joined = time.monotonic()
            assert ASSIGNED in text(log_a), "a and b joined together: no rebuild to interrupt"
            assert REBUILT not in text(log_a), "the rebuild was over before b joined: nothing tested"
            wait_for(lambda: text(log_a).count(ASSIGNED) >= 2, 120, every_s=0.2, what="a assigned again", alive=a)
            assert REBUILT not in text(log_a).split(ASSIGNED)[1], "the rebalance waited for the rebuild"
            assert time.monotonic() - joined < 10, "the group did not settle within the rebalance timeout"
            wait_for(lambda: exact(settings), 300, what="both exact", alive=b)

ASSIGNED = "Executing _on_partitions_assigned"
JOINING = "(Re-)joining group"
REBUILT = "rebuilt the tallies of partitions"


def text(log: Path) -> str:
    return log.read_text(errors="replace")

def exact(settings: Settings) -> bool:
    latest = latest_by_key(run(read_topic(settings, contract.STATE_RESULTS)))
    totals = {key: value["total_votes"] for key, value in latest.items()}
    return totals == {f"2024-11-05/house/{s}/live": RECORDS_PER_STATE + 10 for s in STATES}
