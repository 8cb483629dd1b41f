"""The producer every command that writes the contract's topics sends with: replay, ingest
--to-kafka, baseline --to-kafka, demo (through replay) and record's tests. Idempotent with acks=all, keyed records
partitioned as any Kafka producer would (murmur2), and many sends in flight at once (`Sender`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from streams.contract.recording import OutRecord
from streams.errors import BrokerError
from streams.kafka.clients import kafka_client
from streams.kafka.topics import MAX_MESSAGE_BYTES, TopicSpec, ensure_topics, key_hash
from streams.model.baselines import Baseline
from streams.progress import Progress
from streams.settings import Settings

# Unacknowledged sends allowed before the sender waits for the oldest one: enough to keep
# batches full at full speed, small enough that an interrupted replay flushes in a moment.


# Unacknowledged sends allowed before the sender waits for the oldest one: enough to keep
# batches full at full speed, small enough that an interrupted replay flushes in a moment.
MAX_IN_FLIGHT = 20_000


def producer_options() -> dict[str, Any]:
    """The options of the producer replay, ingest, demo and record send with (the connection is
    the factory's: streams.kafka.clients)."""
    return {
        # acks=all + idempotence: a retried batch is neither lost nor written twice.
        "acks": "all",
        "enable_idempotence": True,
        # A few ms of linger fills batches at full speed and is invisible at 1x.
        "linger_ms": 5,
        "max_batch_size": 256 * 1024,
        # An oversized report must reach the worker to become a dead letter (topics.py).
        "max_request_size": MAX_MESSAGE_BYTES + 64 * 1024,
        # A broker restarting takes 20-50 s on a busy machine: the replay waits for it (its sends
        # are retried, idempotent) instead of failing after aiokafka's default 40 s.
        "request_timeout_ms": 120_000,
    }


class RetriedSendFilter(logging.Filter):
    """Drops aiokafka's warning for a produce error it is retrying (typically NotLeaderForPartition
    right after the topics are created): the retry is routine, and a send that finally fails
    is raised as a `BrokerError` anyway. Printed, they read like failures."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "retrying" not in record.getMessage()


def quiet_retried_sends() -> None:
    logger = logging.getLogger("aiokafka.producer.sender")
    if not any(isinstance(f, RetriedSendFilter) for f in logger.filters):
        logger.addFilter(RetriedSendFilter())


@contextlib.asynccontextmanager
async def open_producer(settings: Settings) -> AsyncIterator[Any]:
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    quiet_retried_sends()
    # aiokafka's default partitioner hashes the key bytes with murmur2, like the Java client.
    producer = kafka_client(AIOKafkaProducer, settings, **producer_options())
    try:
        await producer.start()
    except KafkaError as e:
        await producer.stop()
        raise BrokerError(f"cannot reach Kafka at {settings.bootstrap} ({e}); is the broker running?") from e
    try:
        yield producer
    finally:
        await producer.stop()  # flushes whatever is still batched


@dataclass
class Sender:
    """Sends without awaiting each delivery; keeps at most `MAX_IN_FLIGHT` unacknowledged.

    aiokafka keeps one in-flight request per partition, so records of a key arrive in the
    order they were sent even when batches are retried.
    """

    producer: Any
    sent: int = 0
    _pending: collections.deque[asyncio.Future[Any]] = field(default_factory=collections.deque)
    _partition_counts: dict[str, int] = field(default_factory=dict)

    async def send(self, topic: str, key: str | None, value: bytes | None, timestamp_ms: int | None = None) -> None:
        """`timestamp_ms` None: the producer stamps the send time."""
        key_bytes = None if key is None else key.encode()
        future = await self.producer.send(topic, value=value, key=key_bytes,
                                          partition=await self._partition(topic, key_bytes), timestamp_ms=timestamp_ms)
        self._pending.append(future)
        self.sent += 1
        if len(self._pending) > MAX_IN_FLIGHT:
            await self._settle(self._pending.popleft())

    async def _partition(self, topic: str, key: bytes | None) -> int | None:
        """The default partitioner's choice, murmur2(key) mod partitions, with the hash cached:
        a night has few distinct keys, and aiokafka's pure-Python murmur2 was the largest cost
        of a --max replay. Keyless records are left to aiokafka."""
        from aiokafka.errors import TopicAuthorizationFailedError

        if key is None:
            return None
        if topic not in self._partition_counts:
            try:
                self._partition_counts[topic] = len(await self.producer.partitions_for(topic))
            except TopicAuthorizationFailedError as e:  # the first thing a producer asks of a topic
                raise BrokerError(f"this user may not write topic {topic} ({e}): see README, Security, for "
                                  "which role writes it") from e
        return key_hash(key) % self._partition_counts[topic]

    async def drain(self) -> None:
        while self._pending:
            await self._settle(self._pending.popleft())

    async def _settle(self, future: asyncio.Future[Any]) -> None:
        from aiokafka.errors import InvalidTimestampError, KafkaError

        try:
            await future
        except InvalidTimestampError as e:
            # Kafka 4 refuses a CreateTime more than message.timestamp.after.max.ms (1 h) ahead of its clock.
            raise BrokerError(f"the broker refused a record's recorded time ({e}): a recording dated in the future "
                              "is replayed only once its times have come (or re-dated)") from e
        except KafkaError as e:
            raise BrokerError(f"the broker did not accept a record ({e})") from e


async def produce_records(settings: Settings, records: Iterable[OutRecord], progress: bool,
                          extra_topics: tuple[TopicSpec, ...] = ()) -> int:
    """Send adapter records (values as JSON) to the prefixed topics as fast as possible, creating
    the contract's topics and `extra_topics` (full names) first."""
    await ensure_topics(settings, extra=extra_topics)
    bar = Progress("produce", enabled=progress)
    try:
        async with open_producer(settings) as producer:
            sender = Sender(producer)
            for rec in records:
                await sender.send(settings.topic(rec.topic), rec.key, orjson.dumps(rec.value))
                bar.update(sender.sent)
            await sender.drain()
            return sender.sent
    finally:
        bar.close()


async def produce_baselines(settings: Settings, baselines: Iterable[Baseline]) -> int:
    """Send `baseline/1` records to the compacted `baselines` topic (a contract topic: made if missing)."""
    return await produce_records(settings, (b.to_record() for b in baselines), progress=False)
