"""Checkpoints belong to one log: topics deleted and created again under the same names between
a rehearsal and the live night (or a broker that lost its data) are another log, numbered from 0
again. A worker restarted on its data dir must set the rehearsal's checkpoint aside and count
the new records, all of them and nothing else."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams import contract
from streams.kafka.replay import replay_files
from streams.kafka.security import kafka_connection
from streams.kafka.topic_ids import log_identity
from streams.kafka.topics import TopicSpec, ensure_topics
from streams.settings import Settings
from streams.worker.app import app_id, rekeyed_topic_name
from tests.integration.harness import run, running_worker, source_ms, wait_for
from tests.integration.test_worker_mn import state_results
from tests.integration.test_worker_robustness import write_lines

RACE = "e1/president/CA"
STATE = "e1/CA"  # precinct results are keyed by state (design rule 3): tallied where they are read
REPORTED_AT = "2024-11-06T03:00:00Z"  # after polls close; so is the record's Kafka time (its `ts`)
DEFINITION = {"ts": 0, "topic": "race-definitions", "key": RACE, "value": {
    "schema": "race-definition/1", "election_id": "e1", "race_id": "president", "state": "CA",
    "office": "U.S. President", "precincts_total": 40, "polls_close": "2024-11-06T01:00:00Z", "certified": False,
    "candidates": [{"candidate_id": "harris", "name": "Kamala Harris", "party": "DEM"},
                   {"candidate_id": "trump", "name": "Donald Trump", "party": "REP"}]}}


def night(units: str, count: int, votes: int) -> list[dict[str, Any]]:
    """The race's definition and one report from each of `count` units, one record each."""
    return [DEFINITION, *({"ts": source_ms(REPORTED_AT), "topic": "precinct-results", "key": STATE, "value": {
        "schema": "precinct-result/1", "election_id": "e1", "race_id": "president", "state": "CA",
        "county_fips": "06001", "precinct_id": f"{units}-{i}", "seq": 1, "reported_at": REPORTED_AT,
        "votes": {"harris": votes, "trump": 0}, "complete": True}} for i in range(count))]


def rekeyed(settings: Settings) -> TopicSpec:
    return TopicSpec(rekeyed_topic_name(settings), compact=False, oversize=True, log=True)


async def delete_namespace(settings: Settings) -> None:
    """Every topic of the test's namespace deleted, and gone, so that it can be created again."""
    admin = AIOKafkaAdminClient(**kafka_connection(settings))
    await admin.start()
    try:
        ours = [t for t in await admin.list_topics() if t.startswith(settings.topic_prefix)]
        await admin.delete_topics(ours)
        while set(ours) & set(await admin.list_topics()):
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def commit_ends(settings: Settings) -> dict[TopicPartition, int]:
    """Commit the input's end offsets for the worker's group: what a member that counted the
    night would have committed (a colleague's worker, or this one before a crash)."""
    consumer = AIOKafkaConsumer(**kafka_connection(settings), group_id=app_id(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(settings.topic(contract.PRECINCT_RESULTS), p) for p in range(settings.partitions)]
        consumer.assign(tps)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
        await consumer.commit(ends)
        return ends
    finally:
        await consumer.stop()


def checkpointed(settings: Settings) -> int:
    """The most precinct-results records a checkpoint of the worker includes (0: none yet)."""
    folder = Path(settings.data_dir) / "worker" / "checkpoints" / app_id(settings)
    files = [orjson.loads(path.read_bytes()) for path in folder.glob("partition-*.json")] if folder.exists() else []
    return max((doc["offsets"].get(settings.topic(contract.PRECINCT_RESULTS), 0) for doc in files), default=0)


def total_votes(settings: Settings) -> int | None:
    snapshot = state_results(settings).get(f"{RACE}/live")
    return None if snapshot is None else int(snapshot["total_votes"])


def replay(settings: Settings, lines: list[dict[str, Any]], path: Path) -> None:
    run(replay_files(settings, [write_lines(path, lines)], speed=None, max_gap=None, progress=False))


def test_a_rehearsals_checkpoint_is_set_aside_after_the_topics_are_created_again(
        settings: Settings, tmp_path: Path) -> None:
    quick = {"VOTEWIRE_CHECKPOINT_INTERVAL_S": "1"}
    with running_worker(settings, tmp_path / "rehearsal.log", **quick) as worker:
        replay(settings, night("old", 12, 1000), tmp_path / "rehearsal.jsonl")
        wait_for(lambda: total_votes(settings) == 12_000, 120, what="the rehearsal counted", alive=worker)
        wait_for(lambda: checkpointed(settings) == 12, 60, what="the rehearsal checkpointed", alive=worker)

    run(delete_namespace(settings))
    run(ensure_topics(settings, extra=(rekeyed(settings),)))
    replay(settings, night("new", 20, 10), tmp_path / "live.jsonl")
    assert sum(run(commit_ends(settings)).values()) == 20  # past the rehearsal's checkpoint: its offsets pass

    live_log = tmp_path / "live.log"
    with running_worker(settings, live_log, **quick) as worker:
        counted = wait_for(lambda: total_votes(settings), 120, what="the live night counted", alive=worker)
        time.sleep(2)  # a snapshot after a wrong first one would be newer
        counted = total_votes(settings)
    assert counted == 20 * 10, "the live night's records, all of them and nothing else"
    set_aside = [line for line in live_log.read_text().splitlines() if "set aside" in line]
    assert set_aside, "the rehearsal's checkpoints were used"
    assert all("it belongs to another log: topics" in line for line in set_aside), set_aside


def test_topic_ids_and_the_cluster_id_come_from_the_broker(settings: Settings) -> None:
    run(ensure_topics(settings))
    topic = settings.topic(contract.PRECINCT_RESULTS)

    async def cluster_id() -> str:
        admin = AIOKafkaAdminClient(**kafka_connection(settings))
        await admin.start()
        try:
            return str((await admin.describe_cluster())["cluster_id"])
        finally:
            await admin.close()

    first = run(log_identity(settings, [topic], "app"))
    [(name, topic_id, partitions)] = first.topics
    assert (first.cluster_id, first.app_id, name, partitions) == (run(cluster_id()), "app", topic, settings.partitions)
    assert len(topic_id) == 22  # Kafka's base64url form of a UUID, as its tools show it
    run(delete_namespace(settings))
    run(ensure_topics(settings))
    again = run(log_identity(settings, [topic], "app"))
    assert again.cluster_id == first.cluster_id
    assert again.topics[0][1] != topic_id, "a topic created again under its name is another log"
