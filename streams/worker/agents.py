"""The worker's agents: thin loops that move records between topics and the counting room.

- `tally_precinct_reports` (agent, concurrency 1: offsets are committed from this stream and
  faust issue #606 shows concurrent agents committing past unprocessed records) decodes each
  record (one report, a batch, or a state's poll), re-keys strays to the state key's home,
  applies the reports in order (race alerts once per record) and sends the alerts and dead
  letters they raise.
- `publish_snapshots` (task) sends the coalesced snapshots that are due, on a producer of its
  own (streams.worker.publisher).
- `follow_race_book` (task) keeps race definitions and expected votes (streams.worker.book_reader).
- on every assignment, the tallies of newly assigned partitions are rebuilt from the input
  log (streams.worker.rebuild); the agent and the publisher wait for that.

`TallyWorker` wires them and keeps the hot path and the rebalance; the other jobs are named
collaborators, each given only what it uses: `outbox` (dead letters and alerts), `holds`
(streams.counting.holds), `fence` (the freeze fence), `book_reader`, `publisher` and
`checkpoints`. None of them imports this module.

There is no faust table: the tallies live in memory and the input topic is their log. A
table write per report cost a changelog record per report (faust's `send_soon`, ~140 us each
here), which capped the worker near 6,000 reports/s on its own; see bench/README.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from typing import Any

import faust
from aiokafka import TopicPartition
from faust.exceptions import ConsumerNotStarted
from prometheus_client import CollectorRegistry

from streams import contract
from streams.contract import Alert, PrecinctReport
from streams.counting import CountingRoom, Holds
from streams.counting.holds import home_of
from streams.counting.projection import RaceModels
from streams.errors import InvalidRecord
from streams.kafka.topics import home_partition
from streams.metrics import REPORT_OUTCOMES, WorkerMetrics, serve_metrics, worker_metrics
from streams.settings import Settings
from streams.worker.app import app_id, build_app, build_topics, rekeyed_topic_name
from streams.worker.book_reader import BookReader
from streams.worker.call_alerts import CallAlerts, said_calls
from streams.worker.checkpoint import PartitionCheckpoints
from streams.worker.collector import CollectorTending
from streams.worker.estimates import EstimateAlerts
from streams.worker.fence import FreezeFence
from streams.worker.guard import restart_on_failure, survive_failures
from streams.worker.outbox import InputAcks, Outbox, Receipt
from streams.worker.publisher import CatchUp, SnapshotPublisher
from streams.worker.rebuild import alerts_said, committed_offsets, latest_versions, rebuild_partitions

log = logging.getLogger(__name__)

CHECKPOINT_TICK_S = 2.0  # how often the checkpoint timer looks whether input went quiet
COLLECTOR_TICK_S = 2.0  # how often survivors are frozen out of the cyclic collector's sight
REBALANCE_LOOK_S = 0.25  # how often a record waiting for a rebuild looks whether the group is moving


def kafka_time_ms(timestamp: float | None) -> int | None:
    """faust gives a record's timestamp in seconds (Kafka's milliseconds / 1000): back to the
    milliseconds the rebuild reads, so that both decide the embargo alike."""
    return None if timestamp is None else round(timestamp * 1000)


class TallyWorker:
    """One worker process: the faust app, its topics, and the counting room."""

    def __init__(self, settings: Settings, registry: CollectorRegistry) -> None:
        self.settings = settings
        self.registry = registry
        self.app = build_app(settings)
        self.topics = build_topics(self.app, settings)
        self.input_topics = (settings.topic(contract.PRECINCT_RESULTS), rekeyed_topic_name(settings))
        self.room = CountingRoom()
        self.metrics: WorkerMetrics = worker_metrics(registry)
        self.book_ready = asyncio.Event()
        # Set while every tally of every owned partition is whole; cleared during a rebuild.
        self.tallies_ready = asyncio.Event()
        self.owned: set[int] = set()  # home partitions whose tallies this worker holds
        self.rebuilding: asyncio.Future[None] | None = None
        self.rebuilt: set[int] = set()  # partitions rebuilt since the tallies were last whole
        self.releasing: asyncio.Future[None] | None = None  # the producers of lost partitions closing
        # (input topic, partition) -> next offset: the tallies include every record before it.
        self.positions: dict[tuple[str, int], int] = {}
        # The collaborators, each named for its job and given only what it uses.
        self.acks = InputAcks(lambda: self.app.consumer.unacked)
        self.outbox = Outbox(self.topics, self.metrics, rebalancing=lambda: bool(self.app.rebalancing),
                             let_go=self.let_go)
        self.let_go_partitions: set[int] = set()  # partitions of records let go in a rebalance (let_go)
        self.room.models = RaceModels(settings.model_settled_pct, self.metrics.model_run, self.send_model_alerts)
        self.holds = Holds(self.room, self.home_partition)
        self.fence = FreezeFence(self.app, settings.session_timeout_s, settled=self.rebuild_settled,
                                 on_lift=self.room.mark_all_dirty)
        self.estimates = EstimateAlerts(self.room, self.outbox, owns=self.owns, whole=self.tallies_ready.is_set)
        self.call_alerts = CallAlerts(self.room, self.outbox, owns=self.owns, whole=self.tallies_ready.is_set)
        self.book_reader = BookReader(settings, self.room, self.outbox, self.book_ready, self.estimates.taken,
                                      self.call_alerts.taken, self.call_alerts.definition_taken, self.metrics,
                                      lambda p: p in self.owned)
        self.records_taken = 0  # precinct records taken: the collector's tick and the publisher's pace ask
        self.publisher = SnapshotPublisher(settings, self.room, lambda: self.owned, self.may_publish, self.metrics,
                                           on_fenced=self.reclaim,
                                           catching_up=CatchUp(self.backlog, lambda: self.records_taken))
        self.checkpoints = PartitionCheckpoints(settings, self.room, self.positions, lambda: self.owned,
                                                self.input_topics, self.may_write_checkpoints, self.metrics)
        self.collector = CollectorTending()
        self.records_taken_last_tick = 0
        # Labelled children looked up once: `.labels()` on every record is measurable.
        self.outcome_counters = {o: self.metrics.reports.labels(outcome=o) for o in REPORT_OUTCOMES}
        self._register()

    def _register(self) -> None:
        self.app.agent(self.topics.precinct_results, name="tally_precinct_reports", concurrency=1)(
            self.tally_precinct_reports)
        # Faust stops the whole worker when a timer or task raises: each one survives its own
        # failures instead (streams.worker.guard), logged and counted.
        failures = self.metrics.task_failures
        self.app.timer(5.0, name="measure_lag_and_progress")(
            survive_failures("measure_lag", self.measure_lag, failures))
        self.app.task(restart_on_failure("publish_snapshots", self.publisher.run, failures))
        if self.settings.checkpoint_interval_s > 0:
            tick = min(CHECKPOINT_TICK_S, self.settings.checkpoint_interval_s)
            self.app.timer(tick, name="write_checkpoints")(
                survive_failures("write_checkpoints", self.checkpoints.write_checkpoints, failures))
        self.app.timer(COLLECTOR_TICK_S, name="tend_collector")(
            survive_failures("tend_collector", self.tend_collector, failures))
        self.app.task(restart_on_failure("follow_race_book", self.book_reader.follow_race_book, failures))
        self.app.task(restart_on_failure("serve_private_web", self.serve_private_web, failures))
        self.app.task(restart_on_failure("watch_for_freezes", self.fence.watch_for_freezes, failures))
        self.app.on_partitions_assigned.connect(self.take_assignment)

    # --- agents and tasks ----------------------------------------------------------------------

    async def tally_precinct_reports(self, stream: faust.StreamT[Any]) -> None:
        # Definitions first: a report tallied before its race is known would still count, but
        # its alerts (milestones, out of reach) need the expected vote.
        await self.book_ready.wait()
        # Acked by its receipt once everything it caused is written (streams.worker.outbox).
        async for event in stream.noack().events():  # type: ignore[attr-defined]  # StreamT lacks it; Stream has it
            receipt = self.acks.receipt(event)
            if not self.tallies_ready.is_set() and not await self.tallies_whole(receipt):
                continue
            self.outbox.receipt = receipt
            self.take_precinct_record(event.message)
            self.outbox.close(receipt)

    async def tallies_whole(self, receipt: Receipt) -> bool:
        """Wait while a rebuild runs (fresh records must not reach a half-rebuilt tally). When
        the group moves meanwhile, the record is let go: holding it would hold up the
        rebalance (faust waits for every record taken) until the rebuild is over, past the
        rebalance timeout. False then: not taken, and taken again by its partition's owner."""
        while not self.tallies_ready.is_set():
            if self.app.rebalancing:
                self.let_go(receipt)
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.tallies_ready.wait(), REBALANCE_LOOK_S)
        return True

    def let_go(self, receipt: Receipt) -> None:
        """Give up a record (and those behind it) without acking it: faust's rebalance no longer
        waits for it, and its offset stays uncommitted, so it is taken again after the
        rebalance. Its partition is rebuilt then if this worker keeps it (its tallies may hold
        what it applied, and its alerts would not come again from a duplicate)."""
        self.let_go_partitions.add(self.acks.let_go(receipt))

    def send_model_alerts(self, alerts: list[Alert]) -> None:
        """The model's alerts come as a snapshot is built, from no input record: a receipt of
        their own, so that no record's ack waits on them (they are still sent until delivered)."""
        self.outbox.send_alerts(alerts, Receipt())

    async def serve_private_web(self) -> None:
        runner = await serve_metrics(self.settings.worker_web_addr, self.registry, ready=self.is_ready)
        try:
            await asyncio.Event().wait()  # until the worker stops and cancels this task
        finally:
            await runner.cleanup()

    def is_ready(self) -> bool:
        """Caught up with the race book, tallies whole, not in a rebalance: reports are being consumed."""
        return self.book_ready.is_set() and self.tallies_ready.is_set() and not self.app.rebalancing

    # --- a zombie must not publish: fenced after a freeze until the group has had its say ------

    def may_publish(self) -> bool:
        self.fence.check_freeze()
        return self.book_ready.is_set() and self.tallies_ready.is_set() and not self.fence.fenced

    def may_write_checkpoints(self) -> bool:
        return self.tallies_ready.is_set() and not self.fence.fenced

    def rebuild_settled(self) -> bool:
        return self.rebuilding is None or self.rebuilding.done()

    # --- rebalance: rebuild what was gained, drop what was lost ---------------------------------

    async def take_assignment(self, sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        """faust's `on_partitions_assigned` signal: `args[0]` is the whole new assignment."""
        del sender, signal, kwargs
        assigned: set[TopicPartition] = args[0]
        owned = {tp.partition for tp in assigned if tp.topic in self.input_topics}
        self.acks.forget()  # what was not acked by now was let go: faust reads it again
        gained, kept, lost = owned - self.owned, owned & self.owned, self.owned - owned
        self.owned = owned
        self.book_reader.gained(gained)  # bad race-book records of these are now its to send
        if lost:
            self.forget_partitions(lost)
            self.releasing = asyncio.ensure_future(self.publisher.release(lost))
        if gained or kept:
            # Cleared before faust resumes the stream: the agent must not apply a fresh record
            # to a tally that is half rebuilt, nor the publisher send one.
            self.tallies_ready.clear()
            self.rebuilding = asyncio.ensure_future(self.rebuild(gained, self.rebuilding, kept))
        elif self.rebuilding is None or self.rebuilding.done():
            self.fence.fenced = False  # nothing of its own left to publish stale
            self.tallies_ready.set()

    def reclaim(self, partition: int) -> None:
        """The publisher found `partition`'s snapshot producer fenced: another worker claimed it
        (a successor while this one was away, or a stale rebuild of a worker that has lost it
        since). If the group gives it to this worker, it is claimed and rebuilt at once: left
        dark until some unrelated rebalance, it would be counted and committed, never published.
        While the group is moving, or this worker is fenced after a freeze (it may be the
        zombie), the assignment to come decides instead: fencing the true owner back would let
        a zombie publish."""
        if partition not in self.owned or self.app.rebalancing or self.fence.fenced:
            return
        self.tallies_ready.clear()  # no record applied while the tallies are rebuilt
        self.rebuilding = asyncio.ensure_future(self.rebuild(set(), self.rebuilding, {partition}, mid_generation=True))

    async def rebuild(self, partitions: set[int], earlier: asyncio.Future[None] | None,
                      kept: AbstractSet[int] = frozenset(), mid_generation: bool = False) -> None:
        """Rebuild `partitions`, and those of `kept` that another worker may have counted. At an
        assignment the log is read up to the group's commits (faust reads on from there);
        `mid_generation` (a reclaim) reads up to this worker's own position, where it reads on."""
        if earlier is not None:
            await asyncio.wait([earlier])  # one rebuild at a time; its outcome is its own
        # Kept partitions are rebuilt too when another worker counted them meanwhile: its
        # commits moved on, or its snapshot producer fenced this worker's, or this worker was
        # frozen past its session timeout (then the group may have given them away and back
        # without its seeing it, and its producers are fenced before it has published a thing).
        kept = kept & self.owned
        partitions = (partitions | await self.moved_on(kept) | (kept & self.publisher.fenced_out)
                      | (kept if self.fence.fenced else set()) | (kept & self.let_go_partitions))
        self.let_go_partitions.clear()
        while partitions & self.owned:
            here = partitions & self.owned
            self.forget_partitions(here)  # what an interrupted rebuild may have left half done
            try:
                # The fence first: past it no earlier owner can publish, so what the holds read
                # of the published snapshots is all there will be (streams.worker.publisher).
                await self.publisher.claim(here)
                await self._rebuild_from_log(here, dict(self.positions) if mid_generation else {})
                break
            except Exception:  # a broker away: log, count, try again (streams.worker.guard's rule)
                self.metrics.task_failures.labels(task="rebuild").inc()
                log.exception("rebuilding partitions %s failed; trying again", sorted(here))
                await asyncio.sleep(1.0)
        # Whatever a rebalance took away while this ran is not ours to publish.
        self.forget_partitions(set(range(self.settings.partitions)) - self.owned)
        # A rebuilt national night is millions of long-lived objects: out of the cyclic
        # collector's sight, so that its full collections do not walk them again and again.
        self.collector.tick(busy=True)
        self.rebuilt |= partitions & self.owned
        if asyncio.current_task() is self.rebuilding:
            self.fence.fenced = False  # every partition it holds is checked against the group's commits
            self.tallies_ready.set()
            rebuilt, self.rebuilt = self.rebuilt, set()
            self.estimates.tallies_whole(lambda race: self.race_partition(race) in rebuilt)
            self.call_alerts.tallies_whole()

    async def moved_on(self, kept: AbstractSet[int]) -> set[int]:
        """The kept partitions whose committed offsets are past what this worker has applied:
        another member counted them meanwhile (this one was frozen or cut off and lost them
        for a while), so its tallies of them are stale and are rebuilt. Normally none: a
        member commits only what it applied itself."""
        if not kept:
            return set()
        tps = [TopicPartition(topic, p) for topic in self.input_topics for p in sorted(kept)]
        try:
            committed = await asyncio.wait_for(committed_offsets(self.settings, app_id(self.settings), tps),
                                               30)
        except Exception:  # noqa: BLE001 - the broker away: rebuilding is always right, only slower
            log.warning("could not read the committed offsets of partitions %s: rebuilding them", sorted(kept))
            return set(kept)
        stale = {tp.partition for tp, end in committed.items() if end > self.positions.get((tp.topic, tp.partition), 0)}
        if stale:
            log.warning("partitions %s were counted by another worker meanwhile: rebuilding them", sorted(stale))
        return stale

    def forget_partitions(self, partitions: set[int]) -> None:
        self.holds.forget(partitions)
        self.room.forget_tallies(lambda key: self.home_partition(key.home) in partitions)
        self.estimates.forget(lambda race: self.race_partition(race) in partitions)

    async def _rebuild_from_log(self, partitions: set[int], at_least: dict[tuple[str, int], int]) -> None:
        """Rebuild up to the group's committed offsets, or `at_least` (topic, partition) -> offset."""
        tps = [TopicPartition(topic, p) for topic in self.input_topics for p in sorted(partitions)]
        floor = {tp: at_least[(tp.topic, tp.partition)] for tp in tps if (tp.topic, tp.partition) in at_least}
        await self.checkpoints.read_identity()
        stats = await rebuild_partitions(self.settings, app_id(self.settings), tps, self.room.replay_report,
                                         self.is_home, self.checkpoints.restore_checkpoints, at_least=floor)
        self.positions.update({(tp.topic, tp.partition): end for tp, end in stats.ends.items()})
        self.holds.hold_back(partitions,
                             await latest_versions(self.settings, self.settings.topic(contract.STATE_RESULTS)),
                             await latest_versions(self.settings, self.settings.topic(contract.COUNTY_RESULTS)))
        said = await alerts_said(self.settings, self.settings.topic(contract.RESULTS_ALERTS),
                                 lambda race: self.race_partition(race) in partitions)
        self.estimates.heard(said.estimates)
        self.room.calls.heard(said_calls(said.calls))
        log.info("rebuilt the tallies of partitions %s from %d records (%d reports) in %.1f s",
                 sorted(partitions), stats.records, stats.reports, stats.seconds)

    async def tend_collector(self) -> None:
        # A rebuild is busy too, though the agent takes nothing: a full collection then would
        # walk the half-rebuilt tallies, seconds with the loop held (a rebalance kept waiting,
        # the freeze fence raised for nothing).
        busy = self.records_taken != self.records_taken_last_tick or not self.rebuild_settled()
        self.records_taken_last_tick = self.records_taken
        self.collector.tick(busy)

    # --- one precinct record ------------------------------------------------------------------

    def take_precinct_record(self, message: Any) -> None:
        started = time.perf_counter()
        self.records_taken += 1
        self.positions[(message.topic, message.partition)] = message.offset + 1
        try:
            record = contract.decode_precinct_record(message.value)
        except InvalidRecord as error:
            self.outbox.dead_letter(message, error)
            return
        if not self.is_home(record.key, message.key, message.partition):
            # Design rule 3: every race of one state is tallied in one place. A record keyed
            # otherwise (the older race key too, or spread by another partitioner) goes round
            # once through the re-keyed topic, with the time Kafka gave it.
            self.outbox.forward(record.key.encode(), message.value, self.home_partition(record.key),
                                message.timestamp)
            return
        for refused in record.refused:
            self.outbox.dead_letter_element(message, refused)
        self.apply(record.reports, kafka_time_ms(message.timestamp))
        self.metrics.report_seconds.observe(time.perf_counter() - started)

    def apply(self, reports: list[PrecinctReport], kafka_ms: int | None) -> None:
        """Apply a record's reports in order, each as if it had come alone (design rule 1);
        `kafka_ms` is the time Kafka gave the record."""
        results, alerts = self.room.apply_record(reports, kafka_ms)
        if alerts:
            self.outbox.send_alerts(alerts)
        outcomes = dict.fromkeys(REPORT_OUTCOMES, 0)
        latest_ms = None
        for applied in results:
            outcomes[applied.outcome] += 1
            if applied.unit is not None:
                latest_ms = applied.unit.reported_ms
        # Metrics once per record, not per report.
        for outcome, n in outcomes.items():
            if n:
                self.outcome_counters[outcome].inc(n)
        if latest_ms is not None:
            self.metrics.last_report_ts.set(latest_ms / 1000)

    def owns(self, race_key: str) -> bool:
        """Whether this worker holds the race's tallies."""
        return self.race_partition(race_key) in self.owned

    def race_partition(self, race_key: str) -> int:
        """Where a race's tallies live: the home of its state key (design rule 3)."""
        return self.home_partition(home_of(race_key, 0))

    def home_partition(self, state_key: str) -> int:
        """Where a state's tallies live (streams.kafka.topics.home_partition)."""
        return home_partition(state_key, self.settings.partitions)

    def is_home(self, state_key: str, record_key: bytes | None, partition: int) -> bool:
        """Whether a record is tallied where it was read: under its state key, on its home partition."""
        return record_key == state_key.encode() and partition == self.home_partition(state_key)

    # --- timers --------------------------------------------------------------------------------

    async def measure_lag(self) -> None:
        self.metrics.races_polls_closed.set(self.room.races_polls_closed())
        self.metrics.embargoed.set(len(self.room.embargoed))
        for tp, behind in self.records_behind():
            self.metrics.consumer_lag.labels(topic=tp.topic, partition=str(tp.partition)).set(behind)

    def records_behind(self) -> Iterator[tuple[TopicPartition, int]]:
        """Each assigned partition's records not taken yet, as far as the last fetch knows."""
        consumer = self.app.consumer
        try:
            assignment = consumer.assignment()
        except ConsumerNotStarted:  # its thread is not up yet (or this worker was never started): nothing fetched
            return
        for tp in assignment:
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue  # just assigned (a rebalance): not fetched from yet, so no end known
            # faust keeps no public read position; _read_offset is what its own lag sensor uses.
            read = getattr(consumer, "_read_offset", {}).get(tp)
            yield tp, max(highwater - (read + 1 if read is not None else 0), 0)

    def backlog(self) -> int:
        """Precinct records waiting to be taken, on every input partition this worker reads."""
        return sum(behind for tp, behind in self.records_behind() if tp.topic in self.input_topics)

