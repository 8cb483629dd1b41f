"""Input lag and recovery, watched from outside the worker.

A thread polls, every `every_s`, the end offsets of the input topics and the offsets the
worker's consumer group has committed on them (a plain consumer that joins no group and
commits nothing, as streams.worker.rebuild reads them). Lag = end - committed, summed over
partitions; the peak is kept. For each fault, `caught_up_s` runs from the moment the
harness says the fault ended until the group has committed every input record written by
then. (`seconds`, the recovery as a reader sees it, is judged after the night from the probe
races' snapshots: faults.scenarios.probe_recoveries.) Polls that fail (the broker away, the
proxy blackholing) are skipped and counted; a poll session that breaks is started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.kafka.topics import topic_partitions


@dataclass
class Recovery:
    fault: str
    ended_at: float  # monotonic
    ended_wall: float  # time.time(), to compare with the snapshots' record timestamps
    probe_seq: int  # the seq the probes were sent when the fault ended
    target: dict[TopicPartition, int] | None = None  # end offsets when the fault ended
    seconds: float | None = None
    caught_up_s: float | None = None


@dataclass
class LagMonitor:
    bootstrap: str
    group_id: str
    topics: tuple[str, ...]
    every_s: float = 0.5
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

    def fault_ended(self, fault: str, ended_at: float, ended_wall: float, probe_seq: int) -> None:
        with self._lock:
            self.recoveries.append(Recovery(fault, ended_at, ended_wall, probe_seq))

    def wait_recovered(self, deadline_s: float) -> None:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end and any(r.caught_up_s is None for r in self.recoveries):
            time.sleep(0.2)

    async def _watch(self) -> None:
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # its retries are this poll's own business
        while not self._stop.is_set():
            try:
                await self._session()  # every step of it has a deadline of its own
            except (Exception, asyncio.CancelledError):  # the broker away (aiokafka may cancel its own): again
                self.failed_polls += 1
            await asyncio.sleep(self.every_s)

    async def _session(self) -> None:
        """One consumer, polled until it fails or the monitor stops."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=self.group_id,
                                    enable_auto_commit=False, request_timeout_ms=5000)
        try:
            await asyncio.wait_for(consumer.start(), 30)
            tps = [tp for topic in self.topics for tp in await asyncio.wait_for(topic_partitions(consumer, topic), 30)]
            if {tp.topic for tp in tps} != set(self.topics):
                raise RuntimeError("the input topics are not known yet")  # the next session asks again
            while not self._stop.is_set():
                await asyncio.wait_for(self._poll(consumer, tps), 10)
                await asyncio.sleep(self.every_s)
        finally:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(consumer.stop(), 10)

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
