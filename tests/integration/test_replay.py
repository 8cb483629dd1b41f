"""Replay and record against the real broker: keys, exact bytes, partitions, counts, round trip."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import murmur2

from streams.kafka.record import record_topics
from streams.kafka.replay import ReplayStats, replay_files
from streams.settings import Settings

pytestmark = pytest.mark.integration
T = TypeVar("T")
INPUTS = ("race-definitions", "expected-votes", "precinct-results")

PAYLOAD = '{"schema":"race-definition/1",  "name":"Peña \\u00e9",\n"n": 1.50}'
KCAT = {"topic": "expected-votes", "partition": 1, "offset": 5, "tstype": "create", "ts": 1730851800000,
        "broker": 1, "key": "2024-11-05/senate/MN", "payload": '{"expected_votes" : 7}'}


def run(coro: Coroutine[Any, Any, T], deadline_s: float = 60.0) -> T:
    return asyncio.run(asyncio.wait_for(coro, deadline_s))


def small_recording(path: Path) -> list[tuple[str, str | None, bytes]]:
    """A recording of each line kind; returns (topic, key, value bytes) expected on the wire."""
    keys = [f"2024-11-05/race{i}/MN" for i in range(6)]
    lines = [orjson.dumps({"ts": 1000 + i, "topic": "precinct-results", "key": keys[i % 6], "value": {"i": i}})
             for i in range(30)]
    lines.insert(3, orjson.dumps({"ts": 1003, "topic": "race-definitions", "key": keys[0], "payload": PAYLOAD}))
    lines.insert(5, orjson.dumps(KCAT))
    lines.insert(7, b'{"ts": 1004, "topic": "precinct-results", "key": "k", "value": {"i": ')  # bad: line 8
    path.write_bytes(b"\n".join(lines) + b"\n")
    expected = [("precinct-results", keys[i % 6], orjson.dumps({"i": i})) for i in range(30)]
    return [*expected, ("race-definitions", keys[0], PAYLOAD.encode()), ("expected-votes", KCAT["key"],
                                                                         KCAT["payload"].encode())]


async def consume_all(settings: Settings, count: int, deadline_s: float = 30.0) -> list[Any]:
    """Every record of the input topics from the beginning, until `count` arrived (or the deadline)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(settings.topic(t), p) for t in INPUTS for p in range(settings.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        got: list[Any] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + deadline_s
        while len(got) < count and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            got.extend(m for msgs in batch.values() for m in msgs)
        return got
    finally:
        await consumer.stop()


def as_sent(settings: Settings, msgs: list[Any]) -> list[tuple[str, str | None, bytes]]:
    return [(m.topic.removeprefix(settings.topic_prefix), m.key.decode() if m.key else None, m.value) for m in msgs]


def test_replay_max_sends_every_good_line_with_its_key_and_exact_bytes(
        settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recording = tmp_path / "small.jsonl"
    expected = small_recording(recording)
    stats = run(replay_files(settings, [recording], speed=None, max_gap=None, progress=True))
    assert isinstance(stats, ReplayStats)
    assert (stats.sent, stats.bad_lines, stats.interrupted) == (32, 1, False)
    assert f"{recording}:8: not JSON" in capsys.readouterr().err
    msgs = run(consume_all(settings, count=32))
    assert sorted(as_sent(settings, msgs)) == sorted(expected)
    partitions: dict[str, set[int]] = {}
    for m in msgs:
        partitions.setdefault(m.key.decode(), set()).add(m.partition)
        # The default murmur2 partitioner, as the Java client places keys.
        assert m.partition == (murmur2(m.key) & 0x7FFFFFFF) % settings.partitions
    assert all(len(p) == 1 for p in partitions.values())
    per_key = [m.value for m in sorted(msgs, key=lambda m: (m.topic, m.partition, m.offset))
               if m.key.decode() == "2024-11-05/race1/MN" and m.topic.endswith("precinct-results")]
    assert per_key == [orjson.dumps({"i": i}) for i in range(1, 30, 6)]  # the file's order, per key


def test_replay_keeps_relative_timing_scaled_and_capped(settings: Settings, tmp_path: Path) -> None:
    recording = tmp_path / "timed.jsonl.gz"
    import gzip
    with gzip.open(recording, "wb") as f:
        for i, ts in enumerate((0, 1000, 2000, 600_000)):  # a 10-minute gap at the end
            f.write(orjson.dumps({"ts": ts, "topic": "precinct-results", "key": "k", "value": {"i": i}}) + b"\n")
    stats = run(replay_files(settings, [recording], speed=2.0, max_gap=0.5, progress=False))
    # 1 s and 1 s at speed 2 are 0.5 s each; the capped gap adds 0.5 s.
    assert stats.sent == 4
    assert 1.4 <= stats.seconds < 5.0


def test_record_then_replay_preserves_bytes_keys_and_order(settings: Settings, tmp_path: Path) -> None:
    source = tmp_path / "source.jsonl"
    expected = small_recording(source)
    run(replay_files(settings, [source], speed=None, max_gap=None, progress=False))
    recorded = tmp_path / "recorded.jsonl.gz"
    rstats = run(record_topics(settings, recorded, from_beginning=True, idle_exit=2.0))
    assert (rstats.recorded, rstats.skipped) == (32, 0)
    lines = [orjson.loads(line) for line in __import__("gzip").open(recorded, "rt")]
    assert all(line["topic"] in INPUTS and "payload" in line for line in lines)  # stored without the prefix

    other = settings.with_(topic_prefix=f"{settings.topic_prefix}again.")
    stats = run(replay_files(other, [recorded], speed=None, max_gap=None, progress=False))
    assert (stats.sent, stats.bad_lines) == (32, 0)
    first, second = run(consume_all(settings, 32)), run(consume_all(other, 32))
    assert sorted(as_sent(other, second)) == sorted(expected)

    def by_key(settings_: Settings, msgs: list[Any]) -> dict[tuple[str, str], list[bytes]]:
        out: dict[tuple[str, str], list[bytes]] = {}
        for m in sorted(msgs, key=lambda m: (m.topic, m.partition, m.offset)):
            out.setdefault((m.topic.removeprefix(settings_.topic_prefix), m.key.decode()), []).append(m.value)
        return out

    assert by_key(other, second) == by_key(settings, first)


def test_record_live_stops_when_idle_and_gets_only_new_records(settings: Settings, tmp_path: Path) -> None:
    before, after = tmp_path / "before.jsonl", tmp_path / "after.jsonl"
    small_recording(before)
    run(replay_files(settings, [before], speed=None, max_gap=None, progress=False))
    after.write_bytes(orjson.dumps({"ts": 1, "topic": "precinct-results", "key": "new", "value": {"n": 1}}) + b"\n")

    async def record_while_replaying() -> Any:
        ready = asyncio.Event()
        recording = asyncio.create_task(record_topics(settings, tmp_path / "live.jsonl", idle_exit=2.0, ready=ready))
        await asyncio.wait_for(ready.wait(), 20)
        await replay_files(settings, [after], speed=None, max_gap=None, progress=False)
        return await recording

    stats = run(record_while_replaying())
    assert stats.recorded == 1
    assert orjson.loads((tmp_path / "live.jsonl").read_bytes())["key"] == "new"
