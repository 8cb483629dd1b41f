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
    from streams.kafka.connection_log import CONNECTION_EXCEPTIONS, OUTAGE

    while True:
        try:
            await read_topics(settings, live)
        except asyncio.CancelledError:
            raise
        except CONNECTION_EXCEPTIONS as e:
            # Marked for the collapser on the handlers (streams.kafka.connection_log): one line when
            # the outage starts, one when it ends, not one per retry.
            log.warning("gateway feed: %s; retrying every %.0f s", e, RETRY_S, extra=OUTAGE)
            live.mark_ready(False)
            await asyncio.sleep(RETRY_S)
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
    try:
        await consumer.start()  # inside the try: a consumer that failed to start is closed too
        await wait_for_topics(consumer, list(kinds), settings)
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


async def wait_for_topics(consumer: Any, topics: list[str], settings: Settings) -> None:
    """Wait (not fail) while a topic does not exist yet, saying so once. Subscribing first could
    make a broker with auto-creation on create it with the wrong cleanup policy (see
    streams.kafka.topics)."""
    said = False
    while missing := sorted(set(topics) - (existing := set(await consumer.topics()))):
        if not said:
            log.warning("%s", missing_topics_line(settings, missing, existing))
            said = True
        await asyncio.sleep(RETRY_S)
    if said:
        log.warning("topics %s exist now", ", ".join(topics))


def missing_topics_line(settings: Settings, missing: list[str], existing: set[str]) -> str:
    """Which topics are missing, where it looked, and where else the same topics are: a night
    replayed under another prefix (a `votewire demo` makes a fresh one each run)."""
    names = [name.removeprefix(settings.topic_prefix) for name in missing]
    others = sorted({t.removesuffix(name) for name in names for t in existing
                     if t.endswith(name) and t != settings.topic(name)})
    line = (f"waiting for topics {', '.join(missing)} on {settings.bootstrap} (topic prefix "
            f"{settings.topic_prefix or 'none'}): create them with `votewire topics create` or start a worker")
    if others:
        # Demos first, newest first (their prefix is demo<unix time>.): the likeliest to be meant.
        demos = sorted((p for p in others if p.startswith("demo")), reverse=True)
        ranked = demos + [p for p in others if not p.startswith("demo")]
        more = f" (and {len(ranked) - 5} more)" if len(ranked) > 5 else ""
        shown = ", ".join(p or "none" for p in ranked[:5])
        return f"{line}; this broker has them under the prefix {shown}{more}: pass --topic-prefix to read those"
    return f"{line}; a running `votewire demo` uses a prefix of its own (it prints its `watch` command)"


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
