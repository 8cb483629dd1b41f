"""Report produced → state snapshot published: latency at a steady offered rate.

A producer offers `precinct-result/1` reports at a fixed rate for a fixed time, as a fast feed
delivers them: every `POLL_S` the reports that came due go out as one record per race/state
(`precinct-batch/1`), one per state (`state-poll/1`), or, for `single`, one report a record.
Each report is a unit's template (`Offer.units`) with a new seq, reported time and votes: by
default 50 race/states of one race with 1,000 precincts each (`synthetic_units`), whose
definitions (polls closed in 2024, so no embargo holds anything back) are on the topic before
the worker starts; or a recorded night's own units (`recorded_units`: a full ballot, its race
book already read by the worker), with seqs above the night's. Each report's `reported_at` is
the wall-clock time it was handed to the producer, in RFC 3339 with milliseconds, so a
snapshot's `as_of` names the newest report it includes. Latency of a snapshot = the wall-clock
time this process reads it from `state-results` − its `as_of`. After the offered time, reading
goes on until every race/state's snapshot includes its last report (or a deadline: then the
phase did not drain).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.contract import PRECINCT_RESULTS
from streams.contract.batching import batch_records, poll_records, record_key, record_reports
from streams.contract.messages import parse_precinct_report, race_key
from streams.contract.recording import RecordedLine, RecordingReader
from streams.contract.validation import parse_time_ms
from streams.errors import InvalidRecord
from streams.kafka.clients import kafka_client
from streams.kafka.producer import producer_options
from streams.kafka.topics import ensure_topics, topic_partitions
from streams.settings import Settings

ELECTION, RACE = "2024-11-05", "latency"
STATES = [f"L{i:02d}" for i in range(50)]
PRECINCTS, COUNTIES = 1000, 20
POLL_S = 0.1  # how often the simulated feed delivers: a tenth of the default publish interval's 0.25 s


def definitions() -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for state in STATES:
        key = f"{ELECTION}/{RACE}/{state}"
        out.append(("race-definitions", key, {
            "schema": "race-definition/1", "election_id": ELECTION, "race_id": RACE, "state": state,
            "office": "Latency bench", "precincts_total": PRECINCTS, "polls_close": "2024-11-06T00:00:00Z",
            "certified": False, "candidates": [{"candidate_id": "a", "name": "A", "party": "DEM"},
                                               {"candidate_id": "b", "name": "B", "party": "REP"}]}))
        out.append(("expected-votes", key, {
            "schema": "expected-vote/1", "election_id": ELECTION, "race_id": RACE, "state": state,
            "expected_votes": 50_000_000, "seq": 0, "issued_at": "2024-11-06T00:00:00Z"}))
    return out


async def prepare(settings: Settings) -> None:
    """Topics and the race book, before the worker starts."""
    await ensure_topics(settings)
    producer = kafka_client(AIOKafkaProducer, settings, **producer_options())
    await producer.start()
    try:
        for topic, key, value in definitions():
            await producer.send(settings.topic(topic), orjson.dumps(value), key=key.encode())
        await producer.flush()
    finally:
        await producer.stop()


def now_rfc3339(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Delivery = Literal["batches", "polls", "single"]
DELIVERY = {"batches": f"a race batch (precinct-batch/1) per race/state every {POLL_S} s",
            "polls": f"a state poll (state-poll/1) per state every {POLL_S} s", "single": "one report a record"}


def synthetic_units() -> list[dict[str, Any]]:
    """The default phase's units: every state's precinct 0, then every state's precinct 1, ..."""
    return [{"schema": "precinct-result/1", "election_id": ELECTION, "race_id": RACE, "state": state,
             "county_fips": f"99{precinct % COUNTIES:03d}", "precinct_id": f"{state}-{precinct:04d}",
             "votes": {"a": 7, "b": 3}, "complete": False} for precinct in range(PRECINCTS) for state in STATES]


def recorded_units(recording: Path, keys: Collection[str]) -> tuple[list[dict[str, Any]], int]:
    """A recorded night's units (each unit's last valid report) of the race/states `keys`, in a
    fixed shuffled order (a round of reports then spreads over every state and race), and the
    first seq above every recorded one: offered again, their reports are news to the worker."""
    units: dict[tuple[str, ...], dict[str, Any]] = {}
    top = 0
    for report in recorded_reports(recording):
        key = result_key(report)
        if key in keys:
            units[(key, str(report.get("county_fips")), report["precinct_id"])] = report
            top = max(top, report["seq"])
    ordered = [units[unit] for unit in sorted(units)]
    random.Random(0).shuffle(ordered)
    return ordered, top + 1


def recorded_reports(recording: Path) -> Iterator[dict[str, Any]]:
    """The night's `precinct-results` reports that the contract accepts, in recorded order."""
    with RecordingReader(recording) as reader:
        for line in reader:
            if isinstance(line, RecordedLine) and line.topic == PRECINCT_RESULTS and line.value is not None:
                for report in record_reports(orjson.loads(line.value)):
                    with contextlib.suppress(InvalidRecord):
                        parse_precinct_report(report)
                        yield report


def result_key(report: Mapping[str, Any]) -> str:
    """The `state-results` key a report's snapshot is published under."""
    return f"{race_key(report['election_id'], report['race_id'], report['state'])}/{report.get('mode', 'live')}"


class Offer:
    """One phase: `rate` reports/s for `seconds` over `units`; remembers each key's last report time."""

    def __init__(self, settings: Settings, rate: int, seconds: float, first_seq: int,
                 units: Sequence[dict[str, Any]], delivery: Delivery = "batches") -> None:
        self.settings, self.rate, self.seconds, self.delivery = settings, rate, seconds, delivery
        self.units = units
        self.seq = first_seq  # every unit gets the same seq per round: one counter is enough
        self.sent = 0
        self.last_ms: dict[str, int] = {}
        self.produce_seconds = 0.0

    def report(self, i: int) -> tuple[str, dict[str, Any], int]:
        unit = self.units[i % len(self.units)]
        seq = self.seq + i // len(self.units)
        at = now_rfc3339(time.time())
        value = {**unit, "seq": seq, "reported_at": at, "votes": {c: n + 10 * seq for c, n in unit["votes"].items()}}
        return result_key(value), value, parse_time_ms(at, "reported_at")

    async def produce(self) -> None:
        producer = kafka_client(AIOKafkaProducer, self.settings, **producer_options())
        await producer.start()
        topic = self.settings.topic("precinct-results")
        try:
            began = time.perf_counter()
            while (elapsed := time.perf_counter() - began) < self.seconds:
                for value in self.due_records(int(self.rate * elapsed) - self.sent):
                    # keyed by state (design rule 3), as a feed keys them
                    await producer.send(topic, orjson.dumps(value), key=record_key(value).encode())
                await asyncio.sleep(0.002 if self.delivery == "single" else POLL_S)
            self.produce_seconds = time.perf_counter() - began
            await producer.flush()
        finally:
            await producer.stop()

    def due_records(self, count: int) -> Iterator[dict[str, Any]]:
        """The next `count` reports as the records of one delivery (a race's or a state's in
        their order, so each unit's reports keep theirs)."""
        due: dict[str, list[dict[str, Any]]] = {}
        for _ in range(count):
            key, value, at_ms = self.report(self.sent)
            group = record_key(value) if self.delivery == "polls" else key
            due.setdefault(group, []).append(value)
            self.last_ms[key] = at_ms
            self.sent += 1
        for reports in due.values():
            if self.delivery == "polls":  # a race's reports together: one race entry each
                yield from poll_records(sorted(reports, key=lambda r: str(r["race_id"])))
            else:
                yield from batch_records(reports) if self.delivery == "batches" else reports

    @property
    def next_seq(self) -> int:
        return self.seq + self.sent // len(self.units) + 1


async def run_phase(settings: Settings, rate: int, seconds: float, first_seq: int, drain_s: float = 60.0,
                    delivery: Delivery = "batches", units: Sequence[dict[str, Any]] | None = None,
                    ) -> tuple[dict[str, Any], int]:
    """Offer `rate` reports/s for `seconds` (over `units`, by default `synthetic_units()`);
    returns the figures and the next free seq."""
    offer = Offer(settings, rate, seconds, first_seq, units or synthetic_units(), delivery)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = await topic_partitions(consumer, settings.topic("state-results"))
        consumer.assign(tps)
        for tp, end in (await consumer.end_offsets(tps)).items():
            consumer.seek(tp, end)
        producing = asyncio.create_task(offer.produce())
        latencies, as_of = await read_snapshots(consumer, offer, producing, drain_s)
    finally:
        await consumer.stop()
    return summarize(rate, seconds, offer, latencies, as_of), offer.next_seq


async def read_snapshots(consumer: AIOKafkaConsumer, offer: Offer, producing: asyncio.Task[None],
                         drain_s: float) -> tuple[list[float], dict[str, int]]:
    latencies: list[float] = []
    as_of: dict[str, int] = {}
    drain_deadline = None
    while True:
        batches = await consumer.getmany(timeout_ms=50, max_records=10_000)
        read_ms = time.time() * 1000
        for messages in batches.values():
            for m in messages:
                snapshot_ms = parse_time_ms(orjson.loads(m.value)["as_of"], "as_of")
                latencies.append(read_ms - snapshot_ms)
                as_of[m.key.decode()] = max(as_of.get(m.key.decode(), 0), snapshot_ms)
        if producing.done():
            producing.result()
            drain_deadline = drain_deadline or time.perf_counter() + drain_s
            if caught_up(offer, as_of) or time.perf_counter() > drain_deadline:
                return latencies, as_of


def caught_up(offer: Offer, as_of: dict[str, int]) -> bool:
    return all(as_of.get(key, 0) >= last for key, last in offer.last_ms.items())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def summarize(rate: int, seconds: float, offer: Offer, latencies: list[float], as_of: dict[str, int]) -> dict[str, Any]:
    return {"offered_per_s": rate, "seconds": seconds, "reports": offer.sent,
            "delivery": DELIVERY[offer.delivery], "race_states": len({result_key(u) for u in offer.units}),
            "achieved_per_s": round(offer.sent / offer.produce_seconds) if offer.produce_seconds else 0,
            "snapshots": len(latencies), "drained": caught_up(offer, as_of),
            **{f"p{q}_ms": round(percentile(latencies, q / 100)) if latencies else None for q in (50, 95, 99)},
            "max_ms": round(max(latencies)) if latencies else None}
