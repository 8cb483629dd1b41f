"""At-least-once for what a record causes, on the real broker: a record's input offset is
committed only once everything it caused is written (streams.worker.outbox). The fault: the
dead-letters topic refuses the worker's writes (its `max.message.bytes` below the dead letter's
size: RecordTooLarge, which the producer does not retry) until an operator raises the limit.
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
from streams.kafka.topics import ensure_topics, home_partition
from streams.settings import Settings
from streams.worker.app import app_id
from streams.worker.rebuild import committed_offsets
from tests.integration.harness import read_topic, run, running_worker, wait_for

STATE_KEY = "2024-11-05/MN"  # precinct-results' key (design rule 3)
# The worker's line for a send that failed (streams.worker.outbox), or faust's before it.
SEND_FAILED = re.compile(r"sending to \S+ failed|_on_published error")
REPORT = {"schema": "precinct-result/1", "election_id": "2024-11-05", "race_id": "president", "state": "MN",
          "county_fips": "27053", "precinct_id": "27053-0001", "seq": 1, "reported_at": "2024-11-06T02:00:00Z",
          "votes": {"harris": 10}, "complete": False}


async def set_max_message_bytes(settings: Settings, topic: str, limit: int) -> None:
    admin = kafka_client(AIOKafkaAdminClient, settings)
    await admin.start()
    try:
        [response] = await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, settings.topic(topic),
                                                               configs={"max.message.bytes": str(limit)})])
        assert [r[0] for r in response.resources] == [0], response
    finally:
        await admin.close()


async def send_input(settings: Settings, partition: int, values: list[bytes]) -> list[int]:
    """`values` into precinct-results under the state's key, on `partition`; their offsets."""
    producer = kafka_client(AIOKafkaProducer, settings, acks="all")
    await producer.start()
    try:
        return [(await producer.send_and_wait(settings.topic(contract.PRECINCT_RESULTS), value, STATE_KEY.encode(),
                                              partition=partition)).offset for value in values]
    finally:
        await producer.stop()


def committed(settings: Settings, tp: TopicPartition) -> int:
    return int(run(committed_offsets(settings, app_id(settings), [tp]))[tp])


def test_a_dead_letter_that_cannot_be_written_holds_the_input_commit_until_it_is(
        settings: Settings, tmp_path: Path) -> None:
    run(ensure_topics(settings))
    run(set_max_message_bytes(settings, contract.DEAD_LETTERS, 16))  # every dead letter refused
    partition = home_partition(STATE_KEY, settings.partitions)
    tp = TopicPartition(settings.topic(contract.PRECINCT_RESULTS), partition)
    good, bad, later = run(send_input(settings, partition, [
        orjson.dumps(REPORT), b"not json", orjson.dumps({**REPORT, "precinct_id": "27053-0002"})]))
    log = tmp_path / "worker.log"
    with running_worker(settings, log, VOTEWIRE_SEND_TIMEOUT_S="2") as worker:
        wait_for(lambda: committed(settings, tp) > good, 60, what="the record before the bad one committed",
                 alive=worker)
        wait_for(lambda: SEND_FAILED.search(log.read_text(errors="replace")), 60, every_s=0.5,
                 what="the dead letter's send failing", alive=worker)
        for _ in range(3):  # past three commit intervals: faust would have committed past it by now
            time.sleep(1.5)
            assert committed(settings, tp) == bad, "committed past a record whose dead letter was never written"
        run(set_max_message_bytes(settings, contract.DEAD_LETTERS, 1 << 20))  # the fault cleared
        wait_for(lambda: committed(settings, tp) > later, 60, what="the commit moving on once it is written",
                 alive=worker)
    source = f"{tp.topic}[{partition}]@{bad}".encode()
    letters = [r for r in run(read_topic(settings, contract.DEAD_LETTERS)) if r.headers["votewire-source"] == source]
    assert letters, "written once or more, never lost"
    assert all(r.raw == b"not json" for r in letters)
