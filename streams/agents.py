"""The worker's agents: thin loops that move records between topics and the counting room.

- `tally_precinct_reports` (agent, concurrency 1: offsets are committed from this stream and
  faust issue #606 shows concurrent agents committing past unprocessed records) decodes each
  report, re-keys strays, applies it, writes the unit's new report to the table (the one
  state write per record) and sends the alerts it raised.
- `publish_snapshots` (timer) sends the coalesced snapshots that are due.
- `follow_race_book` (task) keeps race definitions and expected votes (streams.book_reader).
- on every completed rebalance, the counting room is rebuilt from the table.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import faust
import orjson
from prometheus_client import CollectorRegistry

from streams import book_reader, contract
from streams.alerts import alert_value
from streams.app import build_app, build_precinct_table, build_topics
from streams.contract import Alert, PrecinctReport
from streams.counting import CountingRoom
from streams.deadletter import dead_letter_headers
from streams.errors import InvalidRecord
from streams.guard import restart_on_failure, survive_failures
from streams.metrics import REPORT_OUTCOMES, SNAPSHOT_KINDS, WorkerMetrics, serve_metrics, worker_metrics
from streams.settings import Settings
from streams.tally import decode_unit, encode_unit, split_unit_table_key, unit_table_key
from streams.topics import key_hash


class TallyWorker:
    """One worker process: the faust app, its topics and table, and the counting room."""

    def __init__(self, settings: Settings, registry: CollectorRegistry) -> None:
        self.settings = settings
        self.registry = registry
        self.app = build_app(settings)
        self.topics = build_topics(self.app, settings)
        self.units = build_precinct_table(self.app, settings)
        self.room = CountingRoom()
        self.metrics: WorkerMetrics = worker_metrics(registry)
        self.book_ready = asyncio.Event()
        # Labelled children looked up once: `.labels()` on every record is measurable.
        self.outcome_counters = {o: self.metrics.reports.labels(outcome=o) for o in REPORT_OUTCOMES}
        self.snapshot_counters = {k: self.metrics.snapshots.labels(kind=k) for k in SNAPSHOT_KINDS}
        self._register()

    def _register(self) -> None:
        self.app.agent(self.topics.precinct_results, name="tally_precinct_reports", concurrency=1)(
            self.tally_precinct_reports)
        # Faust stops the whole worker when a timer or task raises: each one survives its own
        # failures instead (streams.guard), logged and counted.
        failures = self.metrics.task_failures
        self.app.timer(self.settings.publish_interval_s, name="publish_snapshots")(
            survive_failures("publish_snapshots", self.publish_snapshots, failures))
        self.app.timer(5.0, name="measure_lag_and_progress")(
            survive_failures("measure_lag", self.measure_lag, failures))
        self.app.task(restart_on_failure("follow_race_book", self.follow_race_book, failures))
        self.app.task(restart_on_failure("serve_private_web", self.serve_private_web, failures))
        self.app.on_rebalance_complete.connect(self.restore_from_table)

    # --- agents and tasks ----------------------------------------------------------------------

    async def tally_precinct_reports(self, stream: faust.StreamT[Any]) -> None:
        # Definitions first: a report tallied before its race is known would still count, but
        # its alerts (milestones, out of reach) need the expected vote.
        await self.book_ready.wait()
        async for event in stream.events():
            self.take_precinct_record(event.message)

    async def follow_race_book(self) -> None:
        await book_reader.follow_race_book(self.settings, self)

    async def serve_private_web(self) -> None:
        runner = await serve_metrics(self.settings.worker_web_addr, self.registry, ready=self.is_ready)
        try:
            await asyncio.Event().wait()  # until the worker stops and cancels this task
        finally:
            await runner.cleanup()

    def is_ready(self) -> bool:
        """Caught up with the race book, and not in a rebalance (so reports are being consumed)."""
        return self.book_ready.is_set() and not self.app.rebalancing

    async def restore_from_table(self, sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        """Rebuild every tally from the table (after a restart or a rebalance) and re-publish."""
        del sender, args, signal, kwargs
        self.room.forget_tallies()
        for raw_key, raw_unit in self.units.items():
            key, precinct_id = split_unit_table_key(raw_key.decode())
            self.room.restore(key, precinct_id, decode_unit(raw_unit))
        self.room.mark_all_dirty()

    # --- one precinct record ------------------------------------------------------------------

    def take_precinct_record(self, message: Any) -> None:
        started = time.perf_counter()
        try:
            report = contract.decode_precinct_report(message.value)
        except InvalidRecord as error:
            self.dead_letter(message, error)
            return
        home = self.home_partition(report.key)
        if message.key != report.key.encode() or message.partition != home:
            # Design rule 3: one state's tally lives in one place. A record keyed otherwise
            # (or spread by another partitioner) goes round once through the re-keyed topic.
            self.topics.rekeyed.send_soon(key=report.key.encode(), value=message.value, partition=home)
            return
        self.apply(report)
        self.metrics.report_seconds.observe(time.perf_counter() - started)

    def apply(self, report: PrecinctReport) -> None:
        applied, alerts = self.room.apply_report(report)
        self.outcome_counters[applied.outcome].inc()
        if applied.unit is not None:
            self.units[unit_table_key(report).encode()] = encode_unit(applied.unit)
            self.metrics.last_report_ts.set(report.reported_ms / 1000)
        self.send_alerts(alerts)

    def home_partition(self, race_key: str) -> int:
        """The partition the default (murmur2) partitioner gives this key: where its tally lives."""
        return key_hash(race_key.encode()) % self.settings.partitions

    def dead_letter(self, message: Any, error: InvalidRecord) -> None:
        headers = dead_letter_headers(error, message.topic, message.partition, message.offset)
        self.topics.dead_letters.send_soon(key=message.key, value=message.value, headers=headers)
        self.outcome_counters["dead_letter"].inc()
        self.metrics.dead_letters.labels(topic=message.topic, error=error.kind).inc()

    def send_alerts(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            self.topics.alerts.send_soon(key=alert.key.encode(), value=orjson.dumps(alert_value(alert)))
            self.metrics.alerts.labels(type=alert.type).inc()

    # --- timers --------------------------------------------------------------------------------

    async def publish_snapshots(self) -> None:
        if not self.book_ready.is_set():
            return
        started = time.perf_counter()
        sent = 0
        for snap in self.room.due_snapshots():
            topic = self.topics.state_results if snap.kind == "state" else self.topics.county_results
            # send_soon: buffered, no await per snapshot; the producer batches them and faust
            # flushes it before committing offsets.
            topic.send_soon(key=snap.key.encode(), value=orjson.dumps(snap.value))
            self.snapshot_counters[snap.kind].inc()
            sent += 1
            if snap.kind == "state":
                self.note_progress(snap.value)
        if sent:
            await self.app.producer.flush()  # the round is published when the broker has it
            per_snapshot = (time.perf_counter() - started) / sent
            for _ in range(sent):
                self.metrics.publish_seconds.observe(per_snapshot)
        self.metrics.embargoed.set(len(self.room.embargoed))

    def note_progress(self, snapshot: dict[str, Any]) -> None:
        key = (snapshot["election_id"], snapshot["race_id"], snapshot["state"], snapshot["mode"])
        self.metrics.race_progress(key, snapshot["pct_expected_counted"], snapshot["precincts_reporting"])

    async def measure_lag(self) -> None:
        self.metrics.races_polls_closed.set(self.room.races_polls_closed())
        consumer = self.app.consumer
        for tp in consumer.assignment():
            if tp.topic.endswith("-changelog"):
                continue
            # faust keeps no public read position; _read_offset is what its own lag sensor uses.
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue  # just assigned (a rebalance): not fetched from yet, so no end known
            read = getattr(consumer, "_read_offset", {}).get(tp)
            behind = highwater - (read + 1 if read is not None else 0)
            self.metrics.consumer_lag.labels(topic=tp.topic, partition=str(tp.partition)).set(max(behind, 0))
