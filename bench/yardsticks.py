"""The two yardsticks votewire's catch-up is held against, both plain aiokafka loops in this process.

- `limit`: a bare consumer that reads `precinct-results` to its end offsets and decodes every
  record with the contract's own decoder (`decode_precinct_record`: a state poll, a race batch
  or a single report; the elements of polls and batches are counted as reports). Nothing is
  tallied: no stream processor on this consumer can be faster.
- `tally_in_memory`: the same loop plus the same idempotent tally the worker runs
  (`CountingRoom.apply_record`: seq rules, totals, alerts computed), with the race book read
  first from `race-definitions` and `expected-votes`. In memory only: no table, no changelog,
  no snapshots, nothing sent. The best this logic can do in one Python process; it must also
  end exactly on the truth, or it is not the same tally.

Each returns its figures; the clock runs from creating the consumer to the last record.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer

from bench.harness import same_tally
from streams.contract import decode_expected_vote, decode_precinct_record, decode_race_definition
from streams.counting.room import CountingRoom
from streams.errors import InvalidRecord
from streams.kafka.topics import topic_partitions
from streams.settings import Settings


async def read_to_end(settings: Settings, topic: str, handle: Callable[[bytes], None]) -> int:
    """Hand every record of `topic`, from the beginning to its end offsets now, to `handle`."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", max_partition_fetch_bytes=8 << 20)
    await consumer.start()
    try:
        tps = await topic_partitions(consumer, settings.topic(topic))
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        left = {tp: end for tp, end in ends.items() if end > 0}
        records = 0
        while left:
            for tp, messages in (await consumer.getmany(timeout_ms=500, max_records=20_000)).items():
                for m in messages:
                    handle(m.value)
                records += len(messages)
                if messages and messages[-1].offset + 1 >= left.get(tp, 0):
                    left.pop(tp, None)
        return records
    finally:
        await consumer.stop()


async def limit(settings: Settings) -> dict[str, Any]:
    counts = {"reports": 0, "refused": 0}

    def decode(raw: bytes) -> None:
        try:
            record = decode_precinct_record(raw)
        except InvalidRecord:
            counts["refused"] += 1
            return
        counts["reports"] += len(record.reports)
        counts["refused"] += len(record.refused)

    began = time.perf_counter()
    records = await read_to_end(settings, "precinct-results", decode)
    return figures(records, counts, time.perf_counter() - began)


async def tally_in_memory(settings: Settings, truth: dict[str, dict[str, Any]]) -> dict[str, Any]:
    room = CountingRoom()
    counts = {"reports": 0, "refused": 0}

    def apply(raw: bytes) -> None:
        try:
            record = decode_precinct_record(raw)
        except InvalidRecord:
            counts["refused"] += 1
            return
        room.apply_record(record.reports, None)  # tallies only: no embargo to judge
        counts["reports"] += len(record.reports)
        counts["refused"] += len(record.refused)

    began = time.perf_counter()
    await read_book(settings, room)
    records = await read_to_end(settings, "precinct-results", apply)
    result = figures(records, counts, time.perf_counter() - began)
    exact = sum(1 for key, tally in room.tallies.items() if key.state_result_key in truth and same_tally(
        tally.votes, tally.total_votes, tally.precincts_reporting, truth[key.state_result_key]))
    result.update(exact=exact, keys=len(truth))
    return result


async def read_book(settings: Settings, room: CountingRoom) -> None:
    """The race book from `race-definitions` and `expected-votes`, as the worker reads it first."""
    await read_to_end(settings, "race-definitions", lambda raw: _skip_invalid(room.book.put_definition,
                                                                              decode_race_definition, raw))
    await read_to_end(settings, "expected-votes", lambda raw: _skip_invalid(room.book.put_expected,
                                                                            decode_expected_vote, raw))


def _skip_invalid(put: Callable[[Any], object], decode: Callable[[bytes], Any], raw: bytes) -> None:
    with contextlib.suppress(InvalidRecord):
        put(decode(raw))


def figures(records: int, counts: dict[str, int], seconds: float) -> dict[str, Any]:
    return {"records": records, "reports": counts["reports"], "refused": counts["refused"],
            "seconds": round(seconds, 2), "records_per_s": round(records / seconds),
            "reports_per_s": round(counts["reports"] / seconds)}
