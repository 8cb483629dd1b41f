"""Topics -> a recording file that `votewire replay` plays back (`votewire record`).

Each record becomes a raw `payload` line (the value's exact bytes as a UTF-8 string, so a
replay sends byte-identical values), its key as a string, `ts` its Kafka timestamp, and its
topic name without the configured prefix, so the recording replays into any namespace.
The consumer joins no group and commits nothing: recording never moves anyone's offsets.
A `state-poll/1` or a `precinct-batch/1` is one record: it is kept whole, so replaying it sends the same poll.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams import contract
from streams.contract.recording import RecordingWriter
from streams.errors import BrokerError, ConfigError, VotewireError
from streams.kafka.clients import kafka_client
from streams.kafka.topics import ensure_topics
from streams.progress import Progress
from streams.settings import Settings

# The inputs a night is rebuilt from, baselines and race calls included: a replay without
# them has no model and no calls.
INPUT_TOPICS = (contract.RACE_DEFINITIONS, contract.EXPECTED_VOTES, contract.BASELINES, contract.RACE_CALLS,
                contract.PRECINCT_RESULTS)
POLL_MS = 200


@dataclass
class RecordStats:
    recorded: int = 0
    skipped: int = 0
    seconds: float = 0.0
    interrupted: bool = False

    def summary(self) -> str:
        return f"{self.recorded:,} records recorded, {self.skipped:,} skipped, {self.seconds:.1f} s"


def recorded_topic(settings: Settings, full_name: str) -> str:
    """The topic name as stored in recordings: without this namespace's prefix."""
    return full_name.removeprefix(settings.topic_prefix)


class RecordRefused(VotewireError):
    """`--strict`: a record that cannot be recorded exactly stops the recording."""


def write_message(writer: RecordingWriter, settings: Settings, msg: Any, bar: Progress, strict: bool = False) -> bool:
    """One consumed record as a payload line; False (and a note on stderr) when not recordable."""
    try:
        key = None if msg.key is None else msg.key.decode("utf-8")
        payload = None if msg.value is None else msg.value.decode("utf-8")
    except UnicodeDecodeError:
        # The recording format carries payloads as JSON strings: bytes that are not UTF-8
        # cannot be kept exactly, so they are reported rather than altered.
        note = f"{msg.topic}[{msg.partition}]@{msg.offset}: key or value is not UTF-8, not recorded"
        if strict:
            raise RecordRefused(f"{note}; stopped by --strict, nothing written") from None
        bar.print_line(note)
        return False
    writer.write_payload(msg.timestamp, recorded_topic(settings, msg.topic), key, payload)
    return True


async def check_topics_exist(settings: Settings, topics: Sequence[str]) -> None:
    # Checked before subscribing: a subscription's metadata request would make a broker with
    # auto.create.topics.enable create a misspelt topic instead of failing.
    from aiokafka.admin import AIOKafkaAdminClient

    admin = kafka_client(AIOKafkaAdminClient, settings)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    missing = [settings.topic(t) for t in topics if settings.topic(t) not in existing]
    if missing:
        raise ConfigError(f"no such topics: {', '.join(missing)}")


async def fix_start_positions(consumer: Any, settings: Settings, topics: Sequence[str],
                              deadline_s: float = 30.0) -> None:
    """Wait until every partition of `topics` is assigned and its start offset resolved, so a
    record produced after this returns is recorded (and one produced before is not, unless
    --from-beginning)."""
    deadline = time.monotonic() + deadline_s
    while {tp.topic for tp in consumer.assignment()} != {settings.topic(t) for t in topics}:
        if time.monotonic() > deadline:
            raise BrokerError(f"no partitions assigned for {', '.join(topics)} within {deadline_s:.0f} s")
        await asyncio.sleep(0.05)
    for tp in consumer.assignment():
        await consumer.position(tp)


async def record_topics(settings: Settings, out: Path, topics: Sequence[str] = INPUT_TOPICS,
                        from_beginning: bool = False, idle_exit: float | None = None, progress: bool = False,
                        stop: asyncio.Event | None = None, ready: asyncio.Event | None = None,
                        strict: bool = False) -> RecordStats:
    """Record `topics` (names without prefix) into `out` until `stop` or `idle_exit` quiet seconds.

    `ready` is set once the starting positions are fixed, so a caller can produce afterwards.
    `out` appears only when a record was written (streams.contract.recording); `strict` stops
    at the first record that cannot be kept exactly.
    """
    from aiokafka import AIOKafkaConsumer
    from aiokafka.errors import KafkaError

    stop = stop or asyncio.Event()
    await ensure_topics(settings)
    await check_topics_exist(settings, topics)
    # No group: every partition is ours, nothing is committed, and with no committed offset
    # the start is the reset policy (earliest for --from-beginning, else latest).
    consumer = kafka_client(AIOKafkaConsumer, settings, *[settings.topic(t) for t in topics],
                            group_id=None, enable_auto_commit=False,
                            auto_offset_reset="earliest" if from_beginning else "latest")
    try:
        await consumer.start()
        await fix_start_positions(consumer, settings, topics)
        if ready is not None:
            ready.set()
        return await _consume_into(consumer, settings, out, idle_exit, progress, stop, strict)
    except KafkaError as e:
        raise BrokerError(f"recording from {settings.bootstrap} failed ({e})") from e
    finally:
        await consumer.stop()


async def _consume_into(consumer: Any, settings: Settings, out: Path, idle_exit: float | None, progress: bool,
                        stop: asyncio.Event, strict: bool) -> RecordStats:
    stats, bar, started = RecordStats(), Progress("record", enabled=progress), time.monotonic()
    last_record = started
    with RecordingWriter(out) as writer:
        try:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=POLL_MS, max_records=10_000)
                # Merge partitions by timestamp; each partition's own order is kept as it is.
                for msg in heapq.merge(*batch.values(), key=lambda m: m.timestamp):
                    ok = write_message(writer, settings, msg, bar, strict)
                    stats.recorded, stats.skipped = stats.recorded + ok, stats.skipped + (not ok)
                now = time.monotonic()
                last_record = now if batch else last_record
                if idle_exit is not None and now - last_record >= idle_exit:
                    break
                bar.update(stats.recorded)
        finally:
            bar.close()
            stats.seconds = time.monotonic() - started
    stats.interrupted = stop.is_set()
    return stats



