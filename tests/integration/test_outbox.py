"""At-least-once for what a record causes, on the real broker: a record's input offset is
committed only once everything it caused is written (streams.worker.outbox). The fault: the
topic a record's consequence goes to (dead letters, or the re-keyed topic a stray goes round
through) refuses the worker's writes (its `max.message.bytes` below the record's size:
RecordTooLarge, which the producer does not retry) until an operator raises the limit.
(`min.insync.replicas` above the replication factor would be the natural fault, but a Kafka 4
broker caps it at the replication factor: a single test broker accepts every write.)"""

from __future__ import annotations

import re
import time
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams import contract
from streams.kafka.clients import kafka_client
from streams.kafka.topics import TopicSpec, home_partition, topic_configs
from streams.settings import Settings
from streams.worker.app import app_id, rekeyed_topic_name
from streams.worker.rebuild import committed_offsets
from tests.integration.harness import ensure_worker_topics, read_topic, run, running_worker, wait_for

STATE_KEY = "2024-11-05/MN"  # precinct-results' key (design rule 3)
RACE_KEY = "2024-11-05/president/MN"  # the older key: such a record goes round once
# The worker's line for a send that failed (streams.worker.outbox), or faust's before it.
SEND_FAILED = re.compile(r"sending to \S+ failed|_on_published error")
REPORT = {"schema": "precinct-result/1", "election_id": "2024-11-05", "race_id": "president", "state": "MN",
          "county_fips": "27053", "precinct_id": "27053-0001", "seq": 1, "reported_at": "2024-11-06T02:00:00Z",
          "votes": {"harris": 10}, "complete": False}


async def refuse_writes(settings: Settings, spec: TopicSpec, refuse: bool) -> None:
    """Every write to the topic refused (`max.message.bytes` 16), or the topic as votewire made
    it. AlterConfigs replaces a topic's whole configuration: its creation settings go along (a
    log topic back at the broker's retention would stop the worker's topic check)."""
    configs = {**topic_configs(spec), **({"max.message.bytes": "16"} if refuse else {})}
    admin = kafka_client(AIOKafkaAdminClient, settings)
    await admin.start()
    try:
        [response] = await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, spec.name, configs=configs)])
        assert [r[0] for r in response.resources] == [0], response
    finally:
        await admin.close()


async def send_input(settings: Settings, partition: int, records: list[tuple[str, bytes]]) -> list[int]:
    """(key, value) records into precinct-results, on `partition`; their offsets."""
    producer = kafka_client(AIOKafkaProducer, settings, acks="all")
    await producer.start()
    try:
        return [(await producer.send_and_wait(settings.topic(contract.PRECINCT_RESULTS), value, key.encode(),
                                              partition=partition)).offset for key, value in records]
    finally:
        await producer.stop()


def committed(settings: Settings, tp: TopicPartition) -> int:
    return int(run(committed_offsets(settings, app_id(settings), [tp]))[tp])


def commit_held_until_written(settings: Settings, tmp_path: Path, refusing: TopicSpec,
                              caused: tuple[str, bytes]) -> str:
    """A good record, then `caused` (whose send goes to the topic `refusing`, which refuses
    every write until the fault is cleared), then a good one: the input is committed up
    to `caused` and no further while the send fails, and past it once it is written. The source
    of `caused` as its dead letter would name it."""
    run(ensure_worker_topics(settings))
    run(refuse_writes(settings, refusing, True))
    partition = home_partition(STATE_KEY, settings.partitions)
    tp = TopicPartition(settings.topic(contract.PRECINCT_RESULTS), partition)
    good, bad, later = run(send_input(settings, partition, [
        (STATE_KEY, orjson.dumps(REPORT)), caused, (STATE_KEY, orjson.dumps({**REPORT, "precinct_id": "27053-0002"}))]))
    log = tmp_path / "worker.log"
    with running_worker(settings, log, VOTEWIRE_SEND_TIMEOUT_S="2") as worker:
        wait_for(lambda: committed(settings, tp) > good, 60, what="the record before the bad one committed",
                 alive=worker)
        wait_for(lambda: SEND_FAILED.search(log.read_text(errors="replace")), 60, every_s=0.5,
                 what="the send failing", alive=worker)
        for _ in range(3):  # past three commit intervals: faust would have committed past it by now
            time.sleep(1.5)
            assert committed(settings, tp) == bad, "committed past a record whose send was never written"
        run(refuse_writes(settings, refusing, False))  # the fault cleared
        wait_for(lambda: committed(settings, tp) > later, 60, what="the commit moving on once it is written",
                 alive=worker)
    return f"{tp.topic}[{partition}]@{bad}"


def test_a_dead_letter_that_cannot_be_written_holds_the_input_commit_until_it_is(
        settings: Settings, tmp_path: Path) -> None:
    dead_letters = TopicSpec(settings.topic(contract.DEAD_LETTERS), compact=False, oversize=True)
    source = commit_held_until_written(settings, tmp_path, dead_letters, (STATE_KEY, b"not json"))
    letters = [r for r in run(read_topic(settings, contract.DEAD_LETTERS))
               if r.headers["votewire-source"] == source.encode()]
    assert letters, "written once or more, never lost"
    assert all(r.raw == b"not json" for r in letters)


def test_a_report_that_cannot_be_sent_round_holds_the_input_commit_until_it_is(
        settings: Settings, tmp_path: Path) -> None:
    """Issue 18 item 1's first case: a record under another key (here the older race key) goes
    round through the re-keyed topic; while that topic refuses it, the input stays uncommitted."""
    rekeyed = TopicSpec(rekeyed_topic_name(settings), compact=False, oversize=True, log=True)
    stray = orjson.dumps({**REPORT, "precinct_id": "27053-0009"})
    commit_held_until_written(settings, tmp_path, rekeyed, (RACE_KEY, stray))
    unprefixed = rekeyed.name.removeprefix(settings.topic_prefix)  # read_topic takes a contract name
    went_round = [r for r in run(read_topic(settings, unprefixed)) if r.raw == stray]
    assert went_round, "sent round once or more, never lost"
    assert {r.key for r in went_round} == {STATE_KEY}
