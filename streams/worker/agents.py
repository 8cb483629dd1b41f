"""The worker's agents: thin loops that move records between topics and the counting room.

- `tally_precinct_reports` (agent, concurrency 1: offsets are committed from this stream and
  faust issue #606 shows concurrent agents committing past unprocessed records) decodes each
  record (one report, or a batch of them), re-keys strays, applies the reports in order and
  sends the alerts and dead letters they raise.
- `publish_snapshots` (task) sends the coalesced snapshots that are due, on a producer of its
  own (streams.worker.publisher).
- `follow_race_book` (task) keeps race definitions and expected votes (streams.worker.book_reader).
- on every assignment, the tallies of newly assigned partitions are rebuilt from the input
  log (streams.worker.rebuild); the agent and the publisher wait for that.

There is no faust table: the tallies live in memory and the input topic is their log. A
table write per report cost a changelog record per report (faust's `send_soon`, ~140 us each
here), which capped the worker near 6,000 reports/s on its own; see bench/README.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import faust
import orjson
from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry

from streams import contract
from streams.alerts import alert_value
from streams.contract import Alert, PrecinctReport, RefusedElement, TallyKey
from streams.deadletter import dead_letter_headers, element_dead_letter_headers
from streams.errors import InvalidRecord
from streams.figures import snapshot_version
from streams.metrics import REPORT_OUTCOMES, SNAPSHOT_KINDS, WorkerMetrics, serve_metrics, worker_metrics
from streams.security import kafka_connection
from streams.settings import Settings
from streams.tally import RaceTally
from streams.topics import key_hash
from streams.worker import book_reader
from streams.worker.app import app_id, build_app, build_topics, rekeyed_topic_name
from streams.worker.checkpoint import (
    LogIdentity,
    checkpoint_path,
    encode_checkpoint,
    store_checkpoint,
    usable_checkpoint,
)
from streams.worker.collector import CollectorTending
from streams.worker.counting import CountingRoom, reached
from streams.worker.guard import restart_on_failure, survive_failures
from streams.worker.publisher import SnapshotPublisher
from streams.worker.rebuild import committed_offsets, latest_versions, rebuild_partitions
from streams.worker.topic_ids import log_identity

log = logging.getLogger(__name__)

CHECKPOINT_TICK_S = 2.0  # how often the checkpoint timer looks whether input went quiet
FREEZE_TICK_S = 0.5  # how often the freeze watch looks at the clock
# A loop that was away longer than this share of the session timeout may have lost its
# partitions (the whole process frozen: SIGSTOP, a paused VM). Faust heartbeats from a thread
# of its own, so a merely busy loop does not lose them; this only has to catch a freeze.
FREEZE_SHARE = 0.8
COLLECTOR_TICK_S = 2.0  # how often survivors are frozen out of the cyclic collector's sight

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
        self.releasing: asyncio.Future[None] | None = None  # the producers of lost partitions closing
        # (input topic, partition) -> next offset: the tallies include every record before it.
        self.positions: dict[tuple[str, int], int] = {}
        self.checkpoints = Path(settings.data_dir) / "worker" / "checkpoints" / app_id(settings)
        self.checkpointed: dict[int, dict[str, int]] = {}  # partition -> offsets of its last checkpoint
        self.identity: LogIdentity | None = None  # the log the offsets count in, read at each rebuild
        self.positions_last_tick: dict[tuple[str, int], int] = {}
        self.checkpoint_at = 0.0  # loop time of the last round of checkpoints
        self.checkpoint_failures = 0  # in a row: logged on the first and when they stop
        self.alive_at: float | None = None  # loop time of the freeze watch's last look
        self.fenced = False  # woken from a freeze: nothing published until the group has had its say
        # state-results key -> (version, total votes) an earlier owner published, while this one is short of it.
        self.published: dict[str, tuple[int, int]] = {}
        self.room.held = self.is_held
        # county-results key -> the same, for the county snapshots (CountingRoom.county_floor).
        self.county_published: dict[str, tuple[int, int]] = {}
        self.room.county_floor = self.county_floor
        self.publisher = SnapshotPublisher(settings, self)
        self.collector = CollectorTending()
        self.records_taken = 0  # precinct records taken: the collector's tick asks whether any came
        self.records_taken_last_tick = 0
        # Labelled children looked up once: `.labels()` on every record is measurable.
        self.outcome_counters = {o: self.metrics.reports.labels(outcome=o) for o in REPORT_OUTCOMES}
        self.snapshot_counters = {k: self.metrics.snapshots.labels(kind=k) for k in SNAPSHOT_KINDS}
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
                survive_failures("write_checkpoints", self.write_checkpoints, failures))
        self.app.timer(COLLECTOR_TICK_S, name="tend_collector")(
            survive_failures("tend_collector", self.tend_collector, failures))
        self.app.task(restart_on_failure("follow_race_book", self.follow_race_book, failures))
        self.app.task(restart_on_failure("serve_private_web", self.serve_private_web, failures))
        self.app.task(restart_on_failure("watch_for_freezes", self.watch_for_freezes, failures))
        self.app.on_partitions_assigned.connect(self.take_assignment)

    # --- agents and tasks ----------------------------------------------------------------------

    async def tally_precinct_reports(self, stream: faust.StreamT[Any]) -> None:
        # Definitions first: a report tallied before its race is known would still count, but
        # its alerts (milestones, out of reach) need the expected vote.
        await self.book_ready.wait()
        async for event in stream.events():
            if not self.tallies_ready.is_set():
                await self.tallies_ready.wait()  # a rebuild after a rebalance: fresh records wait
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
        """Caught up with the race book, tallies whole, not in a rebalance: reports are being consumed."""
        return self.book_ready.is_set() and self.tallies_ready.is_set() and not self.app.rebalancing

    # --- a zombie must not publish: fenced after a freeze until the group has had its say ------

    async def watch_for_freezes(self) -> None:
        while True:
            self.check_freeze()
            await asyncio.sleep(FREEZE_TICK_S)

    def check_freeze(self) -> None:
        """A worker frozen past its session timeout (SIGSTOP) wakes up a zombie: its partitions
        may belong to a successor that has published newer figures since. Until the group says
        which partitions are still its own (a rebalance, whose rebuild re-checks every kept
        partition against the committed offsets) or a session timeout passes without one, it
        publishes nothing and writes no checkpoint (`fenced`). The agent is not paused: faust
        waits for it to finish its record before it revokes, and the rebuild puts right
        whatever it counts meanwhile. The publisher looks too before it sends, so that the
        first round after the wake-up cannot slip out before this task has run."""
        now = asyncio.get_running_loop().time()
        gap, self.alive_at = (0.0 if self.alive_at is None else now - self.alive_at), now
        if gap <= FREEZE_SHARE * self.settings.session_timeout_s or self.fenced:
            return
        log.warning("the worker was frozen for %.1f s, past its session timeout: it publishes nothing until "
                    "the group confirms its partitions", gap)
        self.fenced = True
        generation = getattr(self.app, "consumer_generation_id", None)
        asyncio.get_running_loop().call_later(self.settings.session_timeout_s, self.lift_fence, generation)

    def lift_fence(self, generation: Any) -> None:
        """No rebalance came within a session timeout of the wake-up: the session had held."""
        if self.app.rebalancing or getattr(self.app, "consumer_generation_id", None) != generation:
            return  # the group is moving: the assignment's rebuild makes the tallies whole again
        if not self.fenced or not (self.rebuilding is None or self.rebuilding.done()):
            return
        log.info("no rebalance after the freeze: the partitions are still this worker's; publishing again")
        self.room.mark_all_dirty()  # a round may have been cut short by the freeze
        self.fenced = False

    def may_publish(self) -> bool:
        self.check_freeze()
        return self.book_ready.is_set() and self.tallies_ready.is_set() and not self.fenced

    # --- rebalance: rebuild what was gained, drop what was lost ---------------------------------

    async def take_assignment(self, sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        """faust's `on_partitions_assigned` signal: `args[0]` is the whole new assignment."""
        del sender, signal, kwargs
        assigned: set[TopicPartition] = args[0]
        owned = {tp.partition for tp in assigned if tp.topic in self.input_topics}
        gained, kept, lost = owned - self.owned, owned & self.owned, self.owned - owned
        self.owned = owned
        if lost:
            self.forget_partitions(lost)
            self.releasing = asyncio.ensure_future(self.publisher.release(lost))
        if gained or kept:
            # Cleared before faust resumes the stream: the agent must not apply a fresh record
            # to a tally that is half rebuilt, nor the publisher send one.
            self.tallies_ready.clear()
            self.rebuilding = asyncio.ensure_future(self.rebuild(gained, self.rebuilding, kept))
        elif self.rebuilding is None or self.rebuilding.done():
            self.fenced = False  # nothing of its own left to publish stale
            self.tallies_ready.set()

    async def rebuild(self, partitions: set[int], earlier: asyncio.Future[None] | None,
                      kept: AbstractSet[int] = frozenset()) -> None:
        if earlier is not None:
            await asyncio.wait([earlier])  # one rebuild at a time; its outcome is its own
        # Kept partitions are rebuilt too when another worker counted them meanwhile: its
        # commits moved on, or its snapshot producer fenced this worker's.
        partitions = partitions | await self.moved_on(kept & self.owned) | (kept & self.publisher.fenced_out)
        while partitions & self.owned:
            here = partitions & self.owned
            self.forget_partitions(here)  # what an interrupted rebuild may have left half done
            try:
                # The fence first: past it no earlier owner can publish, so what the holds read
                # of the published snapshots is all there will be (streams.worker.publisher).
                await self.publisher.claim(here)
                await self._rebuild_from_log(here)
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
        if asyncio.current_task() is self.rebuilding:
            self.fenced = False  # every partition it holds is checked against the group's commits
            self.tallies_ready.set()

    async def moved_on(self, kept: AbstractSet[int]) -> set[int]:
        """The kept partitions whose committed offsets are past what this worker has applied:
        another member counted them meanwhile (this one was frozen or cut off and lost them
        for a while), so its tallies of them are stale and are rebuilt. Normally none: a
        member commits only what it applied itself."""
        if not kept:
            return set()
        tps = [TopicPartition(topic, p) for topic in self.input_topics for p in sorted(kept)]
        try:
            committed = await asyncio.wait_for(
                committed_offsets(kafka_connection(self.settings), app_id(self.settings), tps), 30)
        except Exception:  # noqa: BLE001 - the broker away: rebuilding is always right, only slower
            log.warning("could not read the committed offsets of partitions %s: rebuilding them", sorted(kept))
            return set(kept)
        stale = {tp.partition for tp, end in committed.items() if end > self.positions.get((tp.topic, tp.partition), 0)}
        if stale:
            log.warning("partitions %s were counted by another worker meanwhile: rebuilding them", sorted(stale))
        return stale

    def forget_partitions(self, partitions: set[int]) -> None:
        if self.published:
            self.published = {key: version for key, version in self.published.items()
                              if self.home_partition(key.rsplit("/", 1)[0]) not in partitions}
        if self.county_published:
            self.county_published = {key: version for key, version in self.county_published.items()
                                     if self.home_partition(key.rsplit("/", 2)[0]) not in partitions}
        self.room.forget_tallies(lambda key: self.home_partition(key.race) in partitions)

    async def _rebuild_from_log(self, partitions: set[int]) -> None:
        tps = [TopicPartition(topic, p) for topic in self.input_topics for p in sorted(partitions)]
        # Which cluster and topics the offsets count in: a checkpoint of another is set aside.
        self.identity = await log_identity(kafka_connection(self.settings), self.input_topics, app_id(self.settings))
        stats = await rebuild_partitions(kafka_connection(self.settings), app_id(self.settings), tps,
                                         self.room.replay_report, self.is_home, self.restore_checkpoints)
        self.positions.update({(tp.topic, tp.partition): end for tp, end in stats.ends.items()})
        connection = kafka_connection(self.settings)
        self.hold_back(partitions, await latest_versions(connection, self.settings.topic(contract.STATE_RESULTS)),
                       await latest_versions(connection, self.settings.topic(contract.COUNTY_RESULTS)))
        log.info("rebuilt the tallies of partitions %s from %d records (%d reports) in %.1f s",
                 sorted(partitions), stats.records, stats.reports, stats.seconds)

    def hold_back(self, partitions: set[int], published: dict[str, tuple[int, int]],
                  county_published: dict[str, tuple[int, int]] | None = None) -> None:
        """Hold the snapshots of a rebuilt partition's tallies until they reach the version an
        earlier owner last published. The rebuild stops at the committed offset, but an owner
        that was killed or frozen may have counted and published records past it: a snapshot
        of the rebuilt tallies would carry a lower version than one already out. Those records
        come again to the agent (from the committed offset); past them, the tally is whole.
        At the same version it waits for the same total too: the version is a sum (reports'
        seqs, the estimate's seq, the definition's revision), so a tally with fewer reports and
        a newer estimate can reach it with other figures.

        County snapshots are held per county the same way, against `county_published`: the
        last county snapshot out may be newer than the last state snapshot (the county round
        follows the state round, and records are counted in between)."""
        held = {key: version for key, version in published.items()
                if self.home_partition(key.rsplit("/", 1)[0]) in partitions}
        self.published.update(held)
        self.county_published.update({key: version for key, version in (county_published or {}).items()
                                      if self.home_partition(key.rsplit("/", 2)[0]) in partitions})
        if held:
            log.info("partitions %s: %d snapshots held until their tallies reach the versions already published",
                     sorted(partitions), len(held))

    def is_held(self, key: TallyKey) -> bool:
        """Whether `key`'s tally is still short of the version an earlier owner published."""
        floor = self.published.get(key.state_result_key) if self.published else None
        if floor is None:
            return False
        definition = self.room.book.definitions.get(key.race)
        tally = self.room.tallies.get(key)
        if definition is None or tally is None:
            return True  # nothing to publish yet anyway
        version = snapshot_version(tally.seq_sum, self.room.book.expected.get(key.race), definition)
        if not reached(version, tally.total_votes, floor):
            return True
        del self.published[key.state_result_key]
        return False

    def county_floor(self, county_key: str) -> tuple[int, int] | None:
        """What an earlier owner last published for this county, while this worker may be short of it."""
        return self.county_published.get(county_key) if self.county_published else None

    # --- checkpoints: a shorter rebuild after a restart ------------------------------------------

    def restore_checkpoints(self, committed: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        """Restore each partition's usable checkpoint; where to start reading the log instead of 0."""
        starts: dict[TopicPartition, int] = {}
        identity = self.identity  # read just before (streams.worker.topic_ids)
        if identity is None:
            return starts
        for partition in sorted({tp.partition for tp in committed}):
            ends = {tp.topic: end for tp, end in committed.items() if tp.partition == partition}
            found = usable_checkpoint(checkpoint_path(self.checkpoints, partition), ends, identity)
            if found is None:
                continue
            units = 0
            for key, rows in found.tallies:
                for precinct_id, unit in rows:
                    self.room.restore(key, precinct_id, unit)
                units += len(rows)
            starts.update({TopicPartition(topic, partition): found.offsets.get(topic, 0) for topic in ends})
            log.info("partition %d: %d units restored from its checkpoint at %s", partition, units, found.offsets)
        return starts

    async def write_checkpoints(self) -> None:
        """Every `checkpoint_interval_s`, and as soon as input goes quiet (no record since the
        last tick: the end of a burst, a night caught up), write the checkpoint of every owned
        partition whose tallies moved since its last one.

        Synchronous from the first tally read to the last file's bytes: no record is applied in
        between, so a file holds exactly the records before its offsets. The writes that follow
        run in a thread; a checkpoint counts as written (`checkpointed`) once it is renamed."""
        if not self.tallies_ready.is_set() or self.fenced or self.identity is None:
            return
        quiet = self.positions == self.positions_last_tick
        self.positions_last_tick = dict(self.positions)
        now = self.app.loop.time()
        if not self.checkpoint_at:
            self.checkpoint_at = now  # the interval counts from the first tick with whole tallies
        if not quiet and now - self.checkpoint_at < self.settings.checkpoint_interval_s:
            return
        self.checkpoint_at = now
        by_partition: dict[int, list[RaceTally]] = {}
        for key, tally in self.room.tallies.items():
            by_partition.setdefault(self.home_partition(key.race), []).append(tally)
        encoded = []
        for partition in sorted(self.owned):
            offsets = {topic: self.positions.get((topic, partition), 0) for topic in self.input_topics}
            if offsets != self.checkpointed.get(partition):
                encoded.append((partition, offsets,
                                encode_checkpoint(self.identity, offsets, by_partition.get(partition, []))))
        # The bytes are fixed: disk writes and fsyncs need not hold up the records meanwhile.
        try:
            for partition, offsets, data in encoded:
                await asyncio.to_thread(store_checkpoint, checkpoint_path(self.checkpoints, partition), data)
                self.checkpointed[partition] = offsets
        except OSError as exc:
            self.note_checkpoint_failure(exc)
            return
        if self.checkpoint_failures:
            log.warning("checkpoints are written again, after %d failed attempts", self.checkpoint_failures)
            self.checkpoint_failures = 0

    def note_checkpoint_failure(self, exc: OSError) -> None:
        """A full or broken disk costs only a longer rebuild after a restart: counting goes on.
        Logged once, not at every tick (the next tick tries again), counted every time."""
        self.metrics.task_failures.labels(task="write_checkpoints").inc()
        if not self.checkpoint_failures:
            log.error("checkpoints cannot be written (%s); counting goes on, and they are tried again at "
                      "every tick (a restart meanwhile reads more of the log)", exc)
        self.checkpoint_failures += 1

    async def tend_collector(self) -> None:
        busy = self.records_taken != self.records_taken_last_tick
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
            self.dead_letter(message, error)
            return
        if not self.is_home(record.key, message.key, message.partition):
            # Design rule 3: one state's tally lives in one place. A record keyed otherwise
            # (or spread by another partitioner) goes round once through the re-keyed topic.
            self.topics.rekeyed.send_soon(key=record.key.encode(), value=message.value,
                                          partition=self.home_partition(record.key))
            return
        for refused in record.refused:
            self.dead_letter_element(message, refused)
        self.apply(record.reports)
        self.metrics.report_seconds.observe(time.perf_counter() - started)

    def apply(self, reports: list[PrecinctReport]) -> None:
        """Apply a record's reports in order, each as if it had come alone (design rule 1)."""
        outcomes = dict.fromkeys(REPORT_OUTCOMES, 0)
        latest_ms = None
        for report in reports:
            applied, alerts = self.room.apply_report(report)
            outcomes[applied.outcome] += 1
            if applied.unit is not None:
                latest_ms = report.reported_ms
            if alerts:
                self.send_alerts(alerts)
        # Metrics once per record, not per report.
        for outcome, n in outcomes.items():
            if n:
                self.outcome_counters[outcome].inc(n)
        if latest_ms is not None:
            self.metrics.last_report_ts.set(latest_ms / 1000)

    def home_partition(self, race_key: str) -> int:
        """The partition the default (murmur2) partitioner gives this key: where its tally lives."""
        return key_hash(race_key.encode()) % self.settings.partitions

    def is_home(self, race_key: str, record_key: bytes | None, partition: int) -> bool:
        """Whether a record is tallied where it was read: under its race key, on its home partition."""
        return record_key == race_key.encode() and partition == self.home_partition(race_key)

    def dead_letter(self, message: Any, error: InvalidRecord) -> None:
        headers = dead_letter_headers(error, message.topic, message.partition, message.offset)
        self.topics.dead_letters.send_soon(key=message.key, value=message.value, headers=headers)
        self._count_dead_letter(message.topic, error)

    def dead_letter_element(self, message: Any, refused: RefusedElement) -> None:
        headers = element_dead_letter_headers(refused.error, message.topic, message.partition, message.offset,
                                              refused.index)
        self.topics.dead_letters.send_soon(key=message.key, value=refused.value, headers=headers)
        self._count_dead_letter(message.topic, refused.error)

    def _count_dead_letter(self, topic: str, error: InvalidRecord) -> None:
        self.outcome_counters["dead_letter"].inc()
        self.metrics.dead_letters.labels(topic=topic, error=error.kind).inc()

    def send_alerts(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            self.topics.alerts.send_soon(key=alert.key.encode(), value=orjson.dumps(alert_value(alert)))
            self.metrics.alerts.labels(type=alert.type).inc()

    # --- timers --------------------------------------------------------------------------------

    def note_progress(self, snapshot: dict[str, Any]) -> None:
        key = (snapshot["election_id"], snapshot["race_id"], snapshot["state"], snapshot["mode"])
        self.metrics.race_progress(key, snapshot["pct_expected_counted"], snapshot["precincts_reporting"])

    async def measure_lag(self) -> None:
        self.metrics.races_polls_closed.set(self.room.races_polls_closed())
        self.metrics.embargoed.set(len(self.room.embargoed))
        consumer = self.app.consumer
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue  # just assigned (a rebalance): not fetched from yet, so no end known
            # faust keeps no public read position; _read_offset is what its own lag sensor uses.
            read = getattr(consumer, "_read_offset", {}).get(tp)
            behind = highwater - (read + 1 if read is not None else 0)
            self.metrics.consumer_lag.labels(topic=tp.topic, partition=str(tp.partition)).set(max(behind, 0))

