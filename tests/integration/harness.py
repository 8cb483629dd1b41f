"""Running real votewire processes against the session broker, and reading topics back.

Every wait has a deadline; every process started here is stopped (or killed) at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.kafka.clients import kafka_client
from streams.kafka.security import kafka_connection
from streams.kafka.topics import TopicSpec, ensure_topics, topic_partitions
from streams.localkafka import kafka_local
from streams.settings import Settings


def votewire_env(settings: Settings, **extra: str) -> dict[str, str]:
    return {**os.environ, "VOTEWIRE_BOOTSTRAP": settings.bootstrap, "VOTEWIRE_TOPIC_PREFIX": settings.topic_prefix,
            "VOTEWIRE_DATA_DIR": settings.data_dir, "VOTEWIRE_APP_ID": settings.app_id,
            "VOTEWIRE_PARTITIONS": str(settings.partitions),
            "VOTEWIRE_PUBLISH_INTERVAL_S": str(settings.publish_interval_s), **extra}


@contextlib.contextmanager
def votewire_process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`votewire ARGS` as a child process, its output in `log`; SIGTERM then SIGKILL at exit."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streams.cli", *args], env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen[bytes], grace_s: float = 20.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def running_worker(settings: Settings, log: Path, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """A `votewire worker`, yielded once faust says it is ready (recovered, consuming).

    Its private metrics port is a free loopback one, unless `env` names VOTEWIRE_WORKER_WEB_ADDR
    (a test that scrapes the worker needs to know where)."""
    env = {"VOTEWIRE_WORKER_WEB_ADDR": f"127.0.0.1:{kafka_local.free_port()}", **env}
    with votewire_process(["worker"], votewire_env(settings, **env), log) as proc:
        wait_for(lambda: "[^Worker]: Ready" in log.read_text(errors="replace"), 120, every_s=0.3,
                 what="worker ready", alive=proc)
        yield proc


@dataclass
class TopicRecord:
    key: str | None
    value: Any
    raw: bytes | None
    partition: int
    offset: int
    headers: dict[str, bytes]
    timestamp_ms: int = 0  # the record's timestamp (its producer's clock when sent)


async def ensure_worker_topics(settings: Settings) -> None:
    """The topics `votewire worker` makes before it starts, the re-key topic too: a worker built
    in-process reads its log's identity (every input topic's id) before each rebuild."""
    from streams.worker.app import rekeyed_topic_name  # imports faust

    await ensure_topics(settings, extra=(TopicSpec(rekeyed_topic_name(settings), compact=False, oversize=True,
                                                   log=True),))


async def send_raw(settings: Settings, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    """(key, value) records into the contract `topic`, as they are, each acknowledged by the broker."""
    producer = kafka_client(AIOKafkaProducer, settings, acks="all")
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(settings.topic(topic), value, key)
    finally:
        await producer.stop()


async def read_topic(settings: Settings, topic: str, idle_s: float = 2.0) -> list[TopicRecord]:
    """Everything in `topic` from the beginning up to its end offsets when the read began
    (a topic still being written to would otherwise never be read to its end)."""
    consumer = AIOKafkaConsumer(**kafka_connection(settings), auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    out: list[TopicRecord] = []
    try:
        tps = await topic_partitions(consumer, settings.topic(topic))
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            batch = await consumer.getmany(timeout_ms=int(idle_s * 1000))
            for messages in batch.values():
                out.extend(_record(m) for m in messages if m.offset < ends[TopicPartition(m.topic, m.partition)])
    finally:
        await consumer.stop()
    return out


def _record(m: Any) -> TopicRecord:
    value = None
    if m.value is not None:
        with contextlib.suppress(orjson.JSONDecodeError):
            value = orjson.loads(m.value)
    return TopicRecord(m.key.decode() if m.key is not None else None, value, m.value, m.partition, m.offset,
                       dict(m.headers or ()), int(m.timestamp or 0))


def latest_by_key(records: list[TopicRecord]) -> dict[str, Any]:
    """The highest-version snapshot per key (later offsets win ties)."""
    latest: dict[str, Any] = {}
    for r in records:
        if r.key is None or not isinstance(r.value, dict):
            continue
        old = latest.get(r.key)
        if old is None or r.value["version"] >= old["version"]:
            latest[r.key] = r.value
    return latest


def ca_president(precincts_total: int) -> dict[str, Any]:
    """A race definition of election `e1`'s CA president race, Harris against Trump, polls closing
    at 04:00 UTC: the small race the worker's embargo tests replay reports against."""
    candidates = [{"candidate_id": "harris", "name": "Kamala Harris", "party": "DEM"},
                  {"candidate_id": "trump", "name": "Donald Trump", "party": "REP"}]
    return {"schema": "race-definition/1", "election_id": "e1", "race_id": "president", "state": "CA",
            "office": "U.S. President", "precincts_total": precincts_total, "polls_close": "2024-11-06T04:00:00Z",
            "certified": False, "candidates": candidates}


def source_ms(at: str) -> int:
    """An RFC 3339 time in ms: the `ts` a recording gives a report made then (replay sends it as
    the record's Kafka time, and a live race is released only when that says polls closed too)."""
    return int(datetime.fromisoformat(at).timestamp() * 1000)


def wait_for(check: Callable[[], Any], deadline_s: float, every_s: float = 2.0, what: str = "condition",
             alive: subprocess.Popen[bytes] | None = None) -> Any:
    """Call `check` until it returns something truthy; fail with its last answer at the deadline,
    or at once when the process `alive` has exited."""
    end = time.monotonic() + deadline_s
    last: Any = None
    while time.monotonic() < end:
        if alive is not None and alive.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {alive.returncode} (see its log)")
        last = check()
        if last:
            return last
        time.sleep(every_s)
    raise AssertionError(f"{what} not reached within {deadline_s:.0f}s; last: {last!r}")


def run(coro: Any, deadline_s: float = 120.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, deadline_s))
