"""`votewire replay`: recorded nights back into the topics, at their own pace or flat out.

Records go out in the files' order (that is the source-time order), to the prefixed name of
the topic they were recorded from, keyed as recorded, with the default murmur2 partitioner,
so a key lands on the partition any Kafka producer would choose; records of the worker's
input topics carry their recorded `ts` as their Kafka timestamp (`RECORDED_TIME_TOPICS`). Timing: the gap between two
records' `ts` is waited again, divided by `--speed` and capped by `--max-gap`; `--max` sends
as fast as the broker takes them, never awaiting one send before the next, with a bounded
number of unacknowledged records in flight.

A bad line is one line on stderr (`FILE:LINE: reason`), skipped and counted, never fatal.
A `precinct-batch/1` is one record like any other: sent whole, counted once (`records sent`
counts records, not the precinct reports they carry).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from streams import contract
from streams.adapters.base import OutRecord
from streams.errors import BrokerError, ConfigError
from streams.progress import Progress
from streams.recording import BadLine, RecordingReader
from streams.security import kafka_connection
from streams.settings import Settings
from streams.topics import MAX_MESSAGE_BYTES, ensure_topics, key_hash

# Unacknowledged sends allowed before the sender waits for the oldest one: enough to keep
# batches full at full speed, small enough that an interrupted replay flushes in a moment.
MAX_IN_FLIGHT = 20_000


@dataclass
class ReplayStats:
    sent: int = 0
    bad_lines: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    position: str = ""  # FILE:LINE of the last line handled, for "stopped at ..."

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        return (f"{self.sent:,} records sent, {self.bad_lines:,} bad lines, "
                f"{self.seconds:.1f} s, {self.rate:,.0f} records/s")


def producer_config(settings: Settings) -> dict[str, Any]:
    return {
        **kafka_connection(settings),
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
    producer = AIOKafkaProducer(**producer_config(settings))
    try:
        await producer.start()
    except KafkaError as e:
        await producer.stop()
        raise BrokerError(f"cannot reach Kafka at {settings.bootstrap} ({e}); is the broker running?") from e
    try:
        yield producer
    finally:
        await producer.stop()  # flushes whatever is still batched


# The worker's input topics get their records' recorded time (`ts`) as their Kafka timestamp:
# a live race is released only when Kafka's time of its records says polls have closed too
# (design rule 7), so a night replayed at --max is released at the recorded moment, not at
# once. They keep their records whatever their age (precinct-results never deletes, the race
# book is compacted). Any other topic (a recording of alerts, say) gets the send time, or a
# 2024 timestamp would have its records deleted at once by the topic's retention.
RECORDED_TIME_TOPICS = frozenset({contract.RACE_DEFINITIONS, contract.EXPECTED_VOTES, contract.PRECINCT_RESULTS})


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
        if key is None:
            return None
        if topic not in self._partition_counts:
            self._partition_counts[topic] = len(await self.producer.partitions_for(topic))
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


def wait_seconds(gap_ms: int, speed: float | None, max_gap_s: float | None) -> float:
    """How long to wait between two records `gap_ms` apart in source time."""
    if speed is None or gap_ms <= 0:
        return 0.0
    wait = gap_ms / 1000 / speed
    return min(wait, max_gap_s) if max_gap_s is not None else wait


@dataclass
class Pacer:
    """Keeps a schedule anchored to the first record, so small sleeps do not add up to drift."""

    speed: float | None
    max_gap_s: float | None
    _prev_ts: int | None = None
    _due: float = 0.0

    async def wait_for(self, ts_ms: int, stop: asyncio.Event) -> None:
        if self.speed is None:
            return
        now = time.monotonic()
        if self._prev_ts is None:
            self._due = now
        else:
            self._due += wait_seconds(ts_ms - self._prev_ts, self.speed, self.max_gap_s)
        self._prev_ts = ts_ms
        if self._due > now:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._due - now)


def check_files(paths: Sequence[Path]) -> None:
    for path in paths:
        if not path.is_file():
            raise ConfigError(f"{path}: no such recording file")


async def replay_files(settings: Settings, paths: Sequence[Path], speed: float | None, max_gap: float | None,
                       progress: bool, stop: asyncio.Event | None = None) -> ReplayStats:
    """Replay recordings in order into `settings`' topics; `speed=None` is as fast as possible."""
    check_files(paths)
    if speed is not None and speed <= 0:
        raise ConfigError(f"--speed {speed} must be > 0")
    stop = stop or asyncio.Event()
    await ensure_topics(settings)
    stats, bar, started = ReplayStats(), Progress("replay", enabled=progress), time.monotonic()
    pacer = Pacer(speed, max_gap)
    try:
        async with open_producer(settings) as producer:
            sender = Sender(producer)
            for path in paths:
                if stop.is_set():
                    break
                await replay_file(settings, path, sender, pacer, stats, bar, stop)
            await sender.drain()
            stats.sent = sender.sent
    finally:
        bar.close()
        stats.seconds = time.monotonic() - started
    stats.interrupted = stop.is_set()
    return stats


async def replay_file(settings: Settings, path: Path, sender: Sender, pacer: Pacer, stats: ReplayStats,
                      bar: Progress, stop: asyncio.Event) -> None:
    with RecordingReader(path) as reader:
        try:
            for line in reader:
                stats.position = f"{path}:{reader.line_no}"
                if isinstance(line, BadLine):
                    stats.bad_lines += 1
                    bar.print_line(f"{path}:{line.line_no}: {line.reason}")
                    continue
                await pacer.wait_for(line.ts_ms, stop)
                if stop.is_set():
                    return
                timestamp = line.ts_ms if line.topic in RECORDED_TIME_TOPICS else None
                await sender.send(settings.topic(line.topic), line.key, line.value, timestamp)
                if bar.due:
                    bar.update(sender.sent, reader.fraction_read, path.name)
        except (OSError, EOFError) as e:  # a truncated or corrupt gzip stream: the rest is unreadable
            stats.bad_lines += 1
            bar.print_line(f"{path}:{reader.line_no + 1}: unreadable, rest of file skipped ({e})")


async def produce_records(settings: Settings, records: Iterable[OutRecord], progress: bool) -> int:
    """Send adapter records (values as JSON) to the prefixed topics as fast as possible."""
    await ensure_topics(settings)
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


@contextlib.contextmanager
def stop_on_interrupt(stop: asyncio.Event) -> Iterator[None]:
    """The first Ctrl-C (or SIGTERM) sets `stop` so the command can flush and report; a second
    Ctrl-C interrupts the usual way."""
    loop = asyncio.get_running_loop()

    def first_interrupt(sig: signal.Signals) -> None:
        stop.set()
        loop.remove_signal_handler(sig)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, first_interrupt, sig)
    try:
        yield
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Replay recordings (JSON Lines, .gz by suffix; `value` or raw `payload` lines; kcat -J dumps) "
        "into the topics, each record to the prefixed name of the topic it was recorded from.")
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="recordings, replayed one after another")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=float, default=1.0,
                      help="time factor: 1 is real time (default), 60 plays an hour a minute")
    pace.add_argument("--max", action="store_true", help="as fast as the broker takes them, ignoring timing")
    parser.add_argument("--max-gap", type=float, metavar="S",
                        help="wait at most S seconds between two records (after --speed), e.g. to skip the "
                             "weeks before a certified final")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (it is drawn only on a tty)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_run(args, settings))


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    stop = asyncio.Event()
    with stop_on_interrupt(stop):
        stats = await replay_files(settings, args.files, None if args.max else args.speed, args.max_gap,
                                   progress=not args.no_progress, stop=stop)
    if stats.interrupted:
        print(f"replay: interrupted at {stats.position or 'the start'}; everything sent was flushed",
              file=sys.stderr)
    print(f"replay: {stats.summary()}")
    return 130 if stats.interrupted else 0
