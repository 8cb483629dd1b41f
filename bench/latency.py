"""Report produced → state snapshot published: latency at a steady offered rate.

A producer offers `precinct-result/1` reports at a fixed rate for a fixed time, as a fast feed
delivers them: every `POLL_S` the reports of each race/state that came due go out as one
`precinct-batch/1` (or, with `batched=False`, one report a record), spread over 50
race/states whose definitions (polls closed in 2024, so no embargo holds anything back) are on
the topic before the worker starts. Each report's `reported_at` is the wall-clock time
it was handed to the producer, in RFC 3339 with milliseconds, so a snapshot's `as_of` names the
newest report it includes. Latency of a snapshot = the wall-clock time this process reads it
from `state-results` − its `as_of`. After the offered time, reading goes on until every
race/state's snapshot includes its last report (or a deadline: then the phase did not drain).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.contract.batching import batch_records, record_key
from streams.contract.validation import parse_time_ms
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


class Offer:
    """One phase: `rate` reports/s for `seconds`; remembers each key's last report time."""

    def __init__(self, settings: Settings, rate: int, seconds: float, first_seq: int, batched: bool = True) -> None:
        self.settings, self.rate, self.seconds, self.batched = settings, rate, seconds, batched
        self.seq = first_seq  # every precinct gets the same seq per round: one counter is enough
        self.sent = 0
        self.last_ms: dict[str, int] = {}
        self.produce_seconds = 0.0

    def report(self, i: int) -> tuple[str, dict[str, Any], int]:
        state, precinct = STATES[i % len(STATES)], i // len(STATES) % PRECINCTS
        seq = self.seq + i // (len(STATES) * PRECINCTS)
        now = time.time()
        at = now_rfc3339(now)
        value = {"schema": "precinct-result/1", "election_id": ELECTION, "race_id": RACE, "state": state,
                 "county_fips": f"99{precinct % COUNTIES:03d}", "precinct_id": f"{state}-{precinct:04d}", "seq": seq,
                 "reported_at": at, "votes": {"a": 10 * seq + 7, "b": 10 * seq + 3}, "complete": False}
        return f"{ELECTION}/{RACE}/{state}", value, parse_time_ms(at, "reported_at")

    async def produce(self) -> None:
        producer = kafka_client(AIOKafkaProducer, self.settings, **producer_options())
        await producer.start()
        topic = self.settings.topic("precinct-results")
        try:
            began = time.perf_counter()
            while (elapsed := time.perf_counter() - began) < self.seconds:
                due: dict[str, list[dict[str, Any]]] = {}
                for _ in range(int(self.rate * elapsed) - self.sent):
                    key, value, at_ms = self.report(self.sent)
                    due.setdefault(key, []).append(value)
                    self.last_ms[key + "/live"] = at_ms
                    self.sent += 1
                for reports in due.values():
                    values = batch_records(reports) if self.batched else iter(reports)
                    for value in values:  # keyed by state (design rule 3), as a feed keys them
                        await producer.send(topic, orjson.dumps(value), key=record_key(value).encode())
                await asyncio.sleep(POLL_S if self.batched else 0.002)
            self.produce_seconds = time.perf_counter() - began
            await producer.flush()
        finally:
            await producer.stop()

    @property
    def next_seq(self) -> int:
        return self.seq + self.sent // (len(STATES) * PRECINCTS) + 1


async def run_phase(settings: Settings, rate: int, seconds: float, first_seq: int,
                    drain_s: float = 60.0, batched: bool = True) -> tuple[dict[str, Any], int]:
    """Offer `rate` reports/s for `seconds`; returns the figures and the next free seq."""
    offer = Offer(settings, rate, seconds, first_seq, batched)
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
            "delivery": f"a batch per race/state every {POLL_S} s" if offer.batched else "one report a record",
            "achieved_per_s": round(offer.sent / offer.produce_seconds) if offer.produce_seconds else 0,
            "snapshots": len(latencies), "drained": caught_up(offer, as_of),
            **{f"p{q}_ms": round(percentile(latencies, q / 100)) if latencies else None for q in (50, 95, 99)},
            "max_ms": round(max(latencies)) if latencies else None}
