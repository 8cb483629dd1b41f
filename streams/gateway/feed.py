"""Reading the output topics into `LiveResults`: from the beginning, then live.

The gateway consumes without a consumer group (no commits): it always starts at the beginning
of the compacted snapshot topics, which hold the latest snapshot per key, so a restarted
gateway rebuilds exactly what it served before. `results-alerts` is a delete-policy topic, so
only the alerts still retained come back; their ids deduplicate any repeats.

Ready means caught up with the end offsets taken at start: from then on, what is served is as
fresh as the topics.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson

from streams import contract
from streams.gateway.live import LiveResults
from streams.gateway.store import Kind
from streams.kafka.clients import kafka_client
from streams.settings import Settings

log = logging.getLogger(__name__)

TOPIC_KINDS: dict[str, Kind] = {
    contract.STATE_RESULTS: "state",
    contract.COUNTY_RESULTS: "county",
    contract.RESULTS_ALERTS: "alert",
}
RETRY_S = 2.0


def kinds_by_topic(settings: Settings) -> dict[str, Kind]:
    return {settings.topic(name): kind for name, kind in TOPIC_KINDS.items()}


async def follow_topics(settings: Settings, live: LiveResults) -> None:
    """Feed `live` forever; a failed consumer is replaced after a pause (versions make re-reads safe)."""
    while True:
        try:
            await read_topics(settings, live)
        except asyncio.CancelledError:
            raise
        except Exception:  # the feed must outlive a broker outage; the next pass re-reads
            log.exception("gateway feed failed; retrying in %.0f s", RETRY_S)
            live.mark_ready(False)
            await asyncio.sleep(RETRY_S)


async def read_topics(settings: Settings, live: LiveResults) -> None:
    from aiokafka import AIOKafkaConsumer

    kinds = kinds_by_topic(settings)
    # No group: with a subscription, aiokafka assigns this consumer every partition of the
    # topics, and with no committed offsets it starts at the earliest one.
    consumer = kafka_client(AIOKafkaConsumer, settings, group_id=None, enable_auto_commit=False,
                            auto_offset_reset="earliest", client_id="votewire-gateway")
    await consumer.start()
    try:
        await wait_for_topics(consumer, list(kinds))
        consumer.subscribe(list(kinds))
        ends: dict[Any, int] | None = None
        while True:
            batch = await consumer.getmany(timeout_ms=500, max_records=2000)
            for tp, records in batch.items():
                for record in records:
                    live.ingest(kinds[tp.topic], decode(record.value, tp.topic, record.offset))
            if not live.ready:
                ends = ends or await end_offsets_once_assigned(consumer, set(kinds))
                if ends and await caught_up(consumer, ends):
                    live.mark_ready()
                    log.info("gateway caught up: %d state snapshots held", live.store.count("state"))
    finally:
        await consumer.stop()


async def wait_for_topics(consumer: Any, topics: list[str]) -> None:
    """Wait (not fail) while a topic does not exist yet. Subscribing first could make a broker
    with auto-creation on create it with the wrong cleanup policy (see streams.kafka.topics)."""
    while missing := sorted(set(topics) - set(await consumer.topics())):
        log.warning("waiting for topics %s (run `votewire topics create`)", ", ".join(missing))
        await asyncio.sleep(RETRY_S)


async def end_offsets_once_assigned(consumer: Any, topics: set[str]) -> dict[Any, int] | None:
    assigned = consumer.assignment()
    if {tp.topic for tp in assigned} != topics:
        return None
    ends: dict[Any, int] = await consumer.end_offsets(list(assigned))
    return ends


async def caught_up(consumer: Any, ends: dict[Any, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True


def decode(value: bytes | None, topic: str, offset: int) -> object:
    """The JSON value of a record, or None (ignored downstream) when it is not JSON."""
    if value is None:  # a compaction tombstone
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        log.warning("%s@%d is not JSON; ignored", topic, offset)
        return None
