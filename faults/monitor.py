"""Input lag and recovery, watched from outside the worker.

A thread polls, every `every_s`, the end offsets of the input topics and the offsets the
worker's consumer group has committed on them (a plain consumer that joins no group and
commits nothing, as streams.worker.rebuild reads them). Lag = end - committed, summed over
partitions; the peak is kept. It also tails the state snapshots for the probe races
(faults.probe). For each fault:
- `seconds` (recovery): from the moment the harness says the fault ended (and sent the
  probes their next seq) until every probe's snapshot shows that seq: every partition is
  counted and published again, as a reader of the output topics sees it;
- `caught_up_s`: until the group has committed every input record written by then.
Polls that fail (the broker away, the proxy blackholing) are skipped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.topics import topic_partitions


@dataclass
class Recovery:
    fault: str
    ended_at: float  # monotonic
    probe_seq: int  # the seq the probes were sent when the fault ended
    target: dict[TopicPartition, int] | None = None  # end offsets when the fault ended
    seconds: float | None = None
    caught_up_s: float | None = None


@dataclass
class LagMonitor:
    bootstrap: str
    group_id: str
    topics: tuple[str, ...]
    snapshot_topic: str
    probe_keys: tuple[str, ...]
    every_s: float = 0.5
    probe_totals: dict[str, int] = field(default_factory=dict)
    peak_lag: int = 0
    input_records: int = 0  # the input topics' end offsets, summed, at the last poll
    failed_polls: int = 0
    recoveries: list[Recovery] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> LagMonitor:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._watch()), name="lag-monitor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def fault_ended(self, fault: str, ended_at: float, probe_seq: int) -> None:
        with self._lock:
            self.recoveries.append(Recovery(fault, ended_at, probe_seq))

    def wait_recovered(self, deadline_s: float) -> None:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end and any(r.seconds is None or r.caught_up_s is None for r in self.recoveries):
            time.sleep(0.2)

    async def _watch(self) -> None:
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # its retries are this poll's own business
        while not self._stop.is_set():
            try:
                await self._session()  # every step of it has a deadline of its own
            except Exception:  # the broker away: count it, try again
                self.failed_polls += 1
            await asyncio.sleep(self.every_s)

    async def _session(self) -> None:
        """One consumer, polled until it fails or the monitor stops."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=self.group_id,
                                    enable_auto_commit=False, request_timeout_ms=5000)
        reader = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                  auto_offset_reset="earliest", request_timeout_ms=5000)
        try:
            await asyncio.wait_for(consumer.start(), 30)
            await asyncio.wait_for(reader.start(), 30)
            tps = [tp for topic in self.topics for tp in await asyncio.wait_for(topic_partitions(consumer, topic), 30)]
            snapshots = await asyncio.wait_for(topic_partitions(reader, self.snapshot_topic), 30)
            if {tp.topic for tp in tps} != set(self.topics) or not snapshots:
                raise RuntimeError("the topics are not known yet")  # the next session asks again
            reader.assign(snapshots)
            await asyncio.wait_for(reader.seek_to_beginning(*snapshots), 30)
            while not self._stop.is_set():
                await asyncio.wait_for(self._read_probes(reader), 10)
                await asyncio.wait_for(self._poll(consumer, tps), 10)
                await asyncio.sleep(self.every_s)
        finally:
            for client in (consumer, reader):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.stop(), 10)

    async def _read_probes(self, reader: AIOKafkaConsumer) -> None:
        batch = await reader.getmany(timeout_ms=100)
        for messages in batch.values():
            for m in messages:
                key = m.key.decode() if m.key is not None else None
                if key in self.probe_keys and m.value is not None:
                    total = int(orjson.loads(m.value)["total_votes"])
                    self.probe_totals[key] = max(self.probe_totals.get(key, 0), total)
        now = time.monotonic()
        with self._lock:
            for r in self.recoveries:
                if r.seconds is None and all(self.probe_totals.get(k, 0) >= r.probe_seq for k in self.probe_keys):
                    r.seconds = round(now - r.ended_at, 2)

    async def _poll(self, consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> None:
        ends = await consumer.end_offsets(tps)
        committed = {tp: await consumer.committed(tp) or 0 for tp in tps}
        now = time.monotonic()
        self.input_records = sum(ends.values())
        self.peak_lag = max(self.peak_lag, sum(max(ends[tp] - committed[tp], 0) for tp in tps))
        with self._lock:
            for r in self.recoveries:
                if r.target is None:
                    r.target = dict(ends)  # the first poll after the fault's end
                if r.caught_up_s is None and all(committed[tp] >= end for tp, end in r.target.items()):
                    r.caught_up_s = round(now - r.ended_at, 2)
