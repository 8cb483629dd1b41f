"""Rebuilding a worker's tallies from the input log, after a start or a rebalance.

The worker keeps no table and writes no changelog: `precinct-results` (and the internal
re-keyed topic) is itself the log its state is derived from, the way Kafka Streams restores a
source table from its input topic. That holds because reports are absolute and idempotent
(design rules 1 and 2): applying a partition's records again, in any order, leaves every unit
at its highest-`seq` report, which is exactly the state the earlier owner had built. So one
report still causes one state write — to memory — and nothing has to be kept in step with
anything else; the cost is paid once, at assignment: the partition is read from its start up
to the group's committed offset, with a plain aiokafka consumer (no faust per-record path).

Records below the committed offset were acted on by an earlier owner: here they only rebuild
tallies (no alerts, no dead letters, no outcome metrics). The tally agent waits until this is
done, and then takes the records from the committed offset on, as fresh ones.

The input topics must therefore keep their records (`retention.ms=-1`, streams.kafka.topics).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams import contract
from streams.contract import ExpectedVote
from streams.counting import COUNTED_HEADER, Floor
from streams.errors import InvalidRecord
from streams.kafka.clients import kafka_client
from streams.kafka.topics import MAX_MESSAGE_BYTES, topic_partitions
from streams.settings import Settings

FETCH_RECORDS = 5000

log = logging.getLogger(__name__)

IsHome = Callable[[str, bytes | None, int], bool]
# Takes a report and the time Kafka gave its record (ms), as the agent does.
TakeReport = Callable[[contract.PrecinctReport, int | None], None]


Offsets = dict[TopicPartition, int]


@dataclass
class RebuildStats:
    records: int = 0
    reports: int = 0
    seconds: float = 0.0
    ends: Offsets = field(default_factory=dict)  # the committed offsets read up to


async def rebuild_partitions(settings: Settings, group_id: str, tps: Iterable[TopicPartition],
                             take_report: TakeReport, is_home: IsHome,
                             restore: Callable[[Offsets], Offsets], at_least: Offsets | None = None) -> RebuildStats:
    """Feed `take_report` every valid report in `tps` below `group_id`'s committed offsets, or
    below `at_least`'s where it is further (a worker rebuilding a partition it is counting: up
    to where it reads on).

    `take_report(report, kafka_ms)` gets each report with the time Kafka gave its record.
    `is_home(state_key, record_key, partition)` says whether a record was tallied where it was
    read (the agent's own test): a stray of the input topic went round through the re-keyed
    topic to its home partition, and is read there.
    `restore(committed)` is called first: it may restore state from a checkpoint and returns
    where to start reading each partition instead of its beginning (streams.worker.checkpoint).
    The consumer only reads: it does not join the group and commits nothing.
    """
    began = time.perf_counter()
    stats = RebuildStats()
    consumer = kafka_client(AIOKafkaConsumer, settings, group_id=group_id, enable_auto_commit=False,
                            auto_offset_reset="earliest", max_partition_fetch_bytes=2 * MAX_MESSAGE_BYTES,
                            fetch_max_bytes=16 * MAX_MESSAGE_BYTES)
    await consumer.start()
    try:
        floor = at_least or {}
        stats.ends = ends = {tp: max(await consumer.committed(tp) or 0, floor.get(tp, 0)) for tp in tps}
        starts = restore(ends)
        todo = [tp for tp, end in ends.items() if end > starts.get(tp, 0)]
        if todo:
            consumer.assign(todo)
            for tp in todo:
                consumer.seek(tp, starts.get(tp, 0))
            await _read_up_to(consumer, {tp: ends[tp] for tp in todo}, take_report, is_home, stats)
    finally:
        await consumer.stop()
    stats.seconds = time.perf_counter() - began
    return stats


async def committed_offsets(settings: Settings, group_id: str, tps: Iterable[TopicPartition]) -> Offsets:
    """`group_id`'s committed offsets of `tps` (0 where none), read without joining the group.
    Through kafka_client: a bare client cannot log in to a secured cluster, and its failure would
    make every rebalance rebuild every kept partition (tests/integration/test_secure_rebalance.py)."""
    consumer = kafka_client(AIOKafkaConsumer, settings, group_id=group_id, enable_auto_commit=False)
    await consumer.start()
    try:
        return {tp: await consumer.committed(tp) or 0 for tp in tps}
    finally:
        await consumer.stop()


async def latest_versions(settings: Settings, topic: str) -> dict[str, Floor]:
    """The highest-version snapshot per key in an output `topic`, read to its current end: its
    version, total votes and what it counted."""
    versions: dict[str, Floor] = {}
    unreadable: list[str] = []  # where the records that are no snapshot sit
    await read_to_end(settings, topic, lambda m: _take_snapshot_figures(m, versions, unreadable))
    if unreadable:
        # Not ours (our snapshots always parse): another writer, or a damaged record. Raising
        # would make every rebuild fail and retry forever; the hold is only for our own versions.
        log.warning("%s: %d records that are no snapshot skipped (the first at %s)", topic, len(unreadable),
                    unreadable[0])
    return versions


def _take_snapshot_figures(m: Any, versions: dict[str, Floor], unreadable: list[str]) -> None:
    """Keep the highest (version, total_votes) snapshot's Floor of a record's key; note where one is unreadable."""
    if m.key is None or m.value is None:
        return  # a tombstone, or a record with no key: nothing to hold against
    try:
        key, floor = m.key.decode(), published_floor(m)
    except (ValueError, TypeError, KeyError, IndexError) as error:  # orjson's errors are ValueErrors
        unreadable.append(f"[{m.partition}]@{m.offset}: {error!r}")
        return
    held = versions.get(key)
    if held is None or (floor.version, floor.total_votes) > (held.version, held.total_votes):
        versions[key] = floor


@dataclass
class Said:
    """What earlier owners said in results-alerts of the races wanted (`alerts_said`)."""

    # The latest estimate an `expected_vote_revised` alert was raised on, per race key: stand-ins
    # with the figure the alert gave (all that comparing a new estimate with it needs).
    estimates: dict[str, ExpectedVote] = field(default_factory=dict)
    # The alerts of race calls, as sent (streams.worker.call_alerts.said_calls reads them).
    calls: list[dict[str, Any]] = field(default_factory=list)


async def alerts_said(settings: Settings, topic: str, wanted: Callable[[str], bool]) -> Said:
    """What earlier owners already said in `topic` (results-alerts) of the race keys `wanted`:
    one read of the topic for both."""
    said = Said()

    def take(m: Any) -> None:
        if m.key is None or m.value is None:
            return
        revised, called = REVISED in m.value, any(mark in m.value for mark in CALL_MARKS)
        if not (revised or called) or not wanted(m.key.decode(errors="replace")):
            return
        with contextlib.suppress(ValueError, TypeError, KeyError):  # not one of ours: nothing said
            value = orjson.loads(m.value)
            if called and value["type"] in CALL_TYPES:
                said.calls.append(value)
            elif value["type"] == "expected_vote_revised":
                _take_revised(said.estimates, m.key.decode(), value)

    await read_to_end(settings, topic, take)
    return said


def _take_revised(estimates: dict[str, ExpectedVote], race: str, value: dict[str, Any]) -> None:
    details = value["details"]
    if details["seq"] > estimates.get(race, _NONE).seq:
        estimates[race] = ExpectedVote(value["election_id"], value["race_id"], value["state"],
                                       details["expected_votes"], {}, int(details["seq"]), value["at"], 0)


REVISED = b'"expected_vote_revised"'
CALL_TYPES = ("race_called", "call_changed", "call_retracted")
CALL_MARKS = tuple(f'"{t}"'.encode() for t in CALL_TYPES)
_NONE = ExpectedVote("", "", "", None, {}, -1, "", 0)


async def read_to_end(settings: Settings, topic: str, take: Callable[[Any], None]) -> None:
    """Hand every record of `topic`, from its beginning to its end when the read began, to `take`."""
    consumer = kafka_client(AIOKafkaConsumer, settings, enable_auto_commit=False,
                            fetch_max_bytes=16 * MAX_MESSAGE_BYTES)
    await consumer.start()
    try:
        tps = await topic_partitions(consumer, topic)
        ends = await consumer.end_offsets(tps) if tps else {}
        left = {tp for tp, end in ends.items() if end > 0}
        if left:
            consumer.assign(list(left))
            await consumer.seek_to_beginning(*left)
        while left:
            batch = await consumer.getmany(*left, timeout_ms=1000, max_records=FETCH_RECORDS)
            for tp, messages in batch.items():
                for m in messages:
                    if m.offset < ends[tp]:
                        take(m)
            left = {tp for tp in left if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()


def published_floor(message: Any) -> Floor:
    """What a snapshot record says its publisher had counted (streams.counting.holds.Floor)."""
    value = orjson.loads(message.value)
    counted = dict(message.headers or ()).get(COUNTED_HEADER)
    return Floor(int(value["version"]), int(value["total_votes"]), None if counted is None else int(counted))


async def _read_up_to(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int],
                      take_report: TakeReport, is_home: IsHome, stats: RebuildStats) -> None:
    left = {tp for tp, end in ends.items() if end > 0}
    while left:
        batch = await consumer.getmany(*left, timeout_ms=1000, max_records=FETCH_RECORDS)
        for tp, messages in batch.items():
            end = ends[tp]
            for message in messages:
                if message.offset >= end:
                    break
                stats.records += 1
                stats.reports += _take_record(message, take_report, is_home)
            if messages and messages[-1].offset + 1 >= end:
                left.discard(tp)
                consumer.pause(tp)
        for tp in list(left):
            if await consumer.position(tp) >= ends[tp]:
                left.discard(tp)


def _take_record(message: Any, take_report: TakeReport, is_home: IsHome) -> int:
    try:
        record = contract.decode_precinct_record(message.value)
    except InvalidRecord:
        return 0  # dead-lettered when it was first taken
    if not is_home(record.key, message.key, message.partition):
        return 0  # a stray: it went round through the re-keyed topic, and is read there
    kafka_ms = message.timestamp  # aiokafka's are milliseconds, as the agent's become
    for report in record.reports:
        take_report(report, kafka_ms)
    return len(record.reports)
