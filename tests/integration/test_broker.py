"""The local broker is real Kafka: produce, consume, and compaction keeps the latest per key."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from streams.kafka import topics
from streams.settings import Settings


async def _produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def _consume_all(bootstrap: str, topic: str, count: int) -> list[tuple[bytes, bytes]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    got: list[tuple[bytes, bytes]] = []
    try:
        while len(got) < count:
            batch = await consumer.getmany(timeout_ms=1000)
            got.extend((m.key, m.value) for msgs in batch.values() for m in msgs)
    finally:
        await consumer.stop()
    return got


async def _describe(bootstrap: str, names: list[str]) -> dict[str, dict[str, str]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

        answers = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
        out: dict[str, dict[str, str]] = {}
        for answer in answers:
            for resource in answer.to_object()["resources"]:
                out[resource["resource_name"]] = {c["config_names"]: c["config_value"]
                                                  for c in resource["config_entries"]}
        return out
    finally:
        await admin.close()


def test_contract_topics_are_created_with_their_cleanup_policy(settings: Settings) -> None:
    created = asyncio.run(asyncio.wait_for(topics.ensure_topics(settings), 60))
    assert len(created) == len(topics.CONTRACT_TOPICS)
    configs = asyncio.run(asyncio.wait_for(_describe(settings.bootstrap, created), 30))
    assert configs[settings.topic("race-definitions")]["cleanup.policy"] == "compact"
    assert configs[settings.topic("state-results")]["cleanup.policy"] == "compact"
    assert configs[settings.topic("precinct-results")]["cleanup.policy"] == "delete"
    assert asyncio.run(asyncio.wait_for(topics.ensure_topics(settings), 60)) == []


def test_produce_and_consume_on_a_compacted_topic(settings: Settings) -> None:
    asyncio.run(asyncio.wait_for(topics.ensure_topics(settings), 60))
    topic = settings.topic("race-definitions")
    records = [(b"2024-11-05/president/MN", b'{"v":1}'), (b"2024-11-05/senate/MN", b'{"v":1}'),
               (b"2024-11-05/president/MN", b'{"v":2}')]
    asyncio.run(asyncio.wait_for(_produce(settings.bootstrap, topic, records), 30))
    got = asyncio.run(asyncio.wait_for(_consume_all(settings.bootstrap, topic, 3), 30))
    assert sorted(got) == sorted(records)
