"""Checkpoints: a partition's tallies on local disk, so that a restart need not re-read the night.

The input log is the source of truth (streams.worker.rebuild); a checkpoint only shortens the
read. Every `checkpoint_interval_s` (later while catching up: streams.worker.checkpoint_pace),
and whenever input goes quiet, the worker writes, per owned partition, every unit of the
tallies that live there together with the input offsets they include (the next offset to
read of `precinct-results[p]` and of the re-keyed topic's `[p]`). One file per partition,
written whole to a temporary name and renamed over the old one: one atomic write for all of its
reports (design rule 1), never a file half old, half new.

The file before the newest is kept too (`.prev`): a worker killed mid-burst has often just
written a checkpoint past faust's last commit (both happen every second or so), and the one
before it is then at or below the commit. At assignment the newest checkpoint whose offsets
are at or below the group's committed offsets is used, and the records between the two are
read from the log as usual. A checkpoint past the committed offsets (the worker died after
writing it, before faust committed them) is passed over, because the records past the commit
will come again as fresh ones and must raise their alerts then. Passing one over only costs
time: the partition is then rebuilt from the start of the log.

Offsets belong to a log: a topic deleted and created again under the same name starts at 0
again, and a broker that lost its data is another cluster. So a checkpoint names what it
belongs to (`LogIdentity`: the cluster id, each input topic's id and partition count, the app
id) and its format version. A file written for anything else, or one that votewire did not
write (unreadable, another format, a field of the wrong type), is renamed out of the way
(`<name>.set-aside-<UTC time>`, kept for a look) with one warning, never restored: restoring
it would count units of another night and skip this log's records below its offsets.

Besides its units, a tally's checkpoint holds the latest time Kafka gave its records (the
embargo needs it, design rule 7: it is no unit's, so no unit row holds it). Files of an earlier
format lack it (and the counties units moved from, and the identity), or hold a partition's
tallies by race key rather than by state key: they are set aside like any file of another
format, and the partition is rebuilt from the log once, which finds all.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import orjson
from aiokafka import TopicPartition

from streams.contract import MODES, TallyKey
from streams.counting.room import CountingRoom
from streams.counting.tally import RaceTally, StoredUnit, unit_from_row, unit_row
from streams.errors import VotewireError
from streams.kafka.topic_ids import LogIdentity, log_identity
from streams.kafka.topics import home_partition
from streams.metrics import WorkerMetrics
from streams.settings import Settings
from streams.worker.app import app_id
from streams.worker.checkpoint_pace import CheckpointPace

log = logging.getLogger(__name__)

# The one place the file format is named: a file of any other format is set aside (see above).
# 2: the log's identity (issue 18 item 3); 3: also a tally's Kafka time after its unit rows, and
# a unit row's former counties (issue 18 items 4 and 7); 4: tallies live on the home partition of
# their state key (design rule 3), where a /3 file holds them under the older race-key layout (a
# race may have lived on another partition): never restored into the wrong place.
FORMAT = "votewire-checkpoint/4"


class TallyCheckpoint(NamedTuple):
    key: TallyKey
    units: list[tuple[str, StoredUnit]]  # precinct_id, its latest accepted report
    kafka_ms: int | None  # RaceTally.kafka_ms


@dataclass(frozen=True)
class Checkpoint:
    identity: LogIdentity
    offsets: dict[str, int]  # input topic name -> next offset to read in this partition
    tallies: list[TallyCheckpoint]


class UnusableCheckpoint(VotewireError):
    """A checkpoint file that must not be restored: why, in words."""


def checkpoint_path(directory: Path, partition: int) -> Path:
    return directory / f"partition-{partition}.json"


def encode_checkpoint(identity: LogIdentity, offsets: dict[str, int], tallies: Iterable[RaceTally]) -> bytes:
    """The file's bytes: the tallies as they are now (the worker calls this between records).

    Each tally's entry is encoded once per change and kept on the tally (`_entry`), so a write
    costs the units of the tallies that changed since the last one, plus copying the others'
    bytes, rather than every unit of the night each time. The kept entries hold about as many
    bytes as the owned partitions' files (5 MB for `full-small`, 38 MB for `us`)."""
    # Hundreds of thousands of short-lived rows: with the cyclic collector on, their allocation
    # set off full collections over the whole national state (measured: 2.1 s of CPU for 310,000
    # units against 0.4 s without). The rows hold no cycles; reference counting frees them.
    gc.disable()
    try:
        doc = {"format": FORMAT, "identity": _identity_fields(identity), "offsets": offsets,
               "tallies": [_entry(t) for t in tallies]}
        return orjson.dumps(doc)
    finally:
        gc.enable()


def _entry(tally: RaceTally) -> orjson.Fragment:
    """The tally's `[key, unit rows, kafka_ms]` as JSON: the one kept on it unless it changed since
    (`RaceTally.changes`, raised by every change of a unit or of its Kafka time)."""
    kept = tally.encoded
    if kept is not None and kept[0] == tally.changes:
        entry: orjson.Fragment = kept[1]
        return entry
    entry = orjson.Fragment(orjson.dumps([list(tally.key), [unit_row(p, u) for p, u in tally.units()],
                                          tally.kafka_ms]))
    tally.encoded = (tally.changes, entry)
    return entry


def store_checkpoint(path: Path, data: bytes) -> None:
    """Write the bytes to a temporary file, fsync, and rename it over the checkpoint (keeping the
    one before as `.prev`): safe to run in a thread, the bytes are already fixed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Named per process: two workers sharing a data dir may write one partition's file at once
    # (a frozen one waking up next to its successor); each renames a whole file of its own.
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    except OSError:
        temporary.unlink(missing_ok=True)  # a full disk: leave it no fuller than it was
        raise
    if path.exists():
        os.replace(path, previous_path(path))  # a crash between the two renames leaves the older
    os.replace(temporary, path)


def previous_path(path: Path) -> Path:
    return path.with_name(path.name + ".prev")


def usable_checkpoint(path: Path, committed: dict[str, int], identity: LogIdentity) -> Checkpoint | None:
    """The newer of the checkpoint at `path` and its predecessor that `usable` allows, or None."""
    for candidate in (path, previous_path(path)):
        found = read_checkpoint(candidate, identity)
        if found is not None and usable(found, committed):
            return found
    return None


def read_checkpoint(path: Path, identity: LogIdentity) -> Checkpoint | None:
    """The checkpoint at `path` if votewire wrote it for this log, or None. Any other file there
    is set aside (one warning): it would be read and refused again at every rebuild otherwise."""
    try:
        found = _belonging(_parse(_load(path)), identity)
    except FileNotFoundError:
        return None
    except UnusableCheckpoint as why:
        set_aside(path, str(why))
        return None
    return found


def _load(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise
    except (OSError, orjson.JSONDecodeError) as exc:
        raise UnusableCheckpoint(f"it cannot be read ({exc})") from None


def _belonging(found: Checkpoint, identity: LogIdentity) -> Checkpoint:
    differences = found.identity.differences(identity)
    if differences:
        raise UnusableCheckpoint("it belongs to another log: " + "; ".join(differences))
    return found


def set_aside(path: Path, why: str) -> None:
    """Rename a checkpoint that must not be restored out of the way, keeping it for a look."""
    aside = path.with_name(f"{path.name}.set-aside-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S.%fZ')}")
    try:
        os.replace(path, aside)
    except OSError as exc:
        log.warning("checkpoint %s not used, %s; it cannot be set aside either (%s): rebuilding from the log",
                    path, why, exc.strerror)
        return
    log.warning("checkpoint %s set aside as %s, %s: rebuilding from the log", path, aside.name, why)


def _parse(doc: Any) -> Checkpoint:
    """Every field checked for its type: a file of another version that happens to parse must be
    refused here, not fail later in the middle of a rebuild (which would retry it forever)."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise UnusableCheckpoint(f"its format is {found!r}, not {FORMAT!r}")
    offsets, tallies = doc.get("offsets"), doc.get("tallies")
    if not isinstance(offsets, dict) or not all(type(n) is int and n >= 0 for n in offsets.values()):
        raise UnusableCheckpoint(f"its offsets are not topic: offset ({str(offsets)[:100]})")
    if not isinstance(tallies, list):
        raise UnusableCheckpoint("its tallies are not a list")
    return Checkpoint(_identity(doc.get("identity")), offsets, [_tally(entry) for entry in tallies])


# The identity, written and read in one place: the checkpoint's other fields never touch it.
def _identity_fields(identity: LogIdentity) -> dict[str, Any]:
    return {"cluster_id": identity.cluster_id, "app_id": identity.app_id,
            "topics": [list(topic) for topic in identity.topics]}


def _identity(raw: Any) -> LogIdentity:
    topics = raw.get("topics") if isinstance(raw, dict) else None
    if not (isinstance(topics, list) and isinstance(raw.get("cluster_id"), str) and isinstance(raw.get("app_id"), str)
            and all(isinstance(t, list) and len(t) == 3 and isinstance(t[0], str) and isinstance(t[1], str)
                    and type(t[2]) is int for t in topics)):
        raise UnusableCheckpoint(f"it does not say which log it belongs to ({str(raw)[:100]})")
    return LogIdentity(raw["cluster_id"], raw["app_id"], tuple((name, tid, n) for name, tid, n in topics))


def _tally(entry: Any) -> TallyCheckpoint:
    key, rows, kafka_ms = entry if isinstance(entry, list) and len(entry) == 3 else (None, None, None)
    if not (isinstance(key, list) and len(key) == 4 and all(isinstance(k, str) for k in key) and key[3] in MODES
            and isinstance(rows, list) and (kafka_ms is None or type(kafka_ms) is int)):
        raise UnusableCheckpoint(f"a tally is not one votewire writes ({str(entry)[:100]})")
    return TallyCheckpoint(TallyKey(*key), [_unit(row) for row in rows], kafka_ms)


def _unit(row: Any) -> tuple[str, StoredUnit]:
    try:
        precinct_id, unit = unit_from_row(row)
    except VotewireError as exc:
        raise UnusableCheckpoint(str(exc)) from None
    if not (isinstance(precinct_id, str) and _well_typed(unit)):
        raise UnusableCheckpoint(f"a unit is not one votewire writes ({str(row)[:100]})")
    return precinct_id, unit


def _well_typed(u: StoredUnit) -> bool:
    return (isinstance(u.county_fips, str) and isinstance(u.reported_at, str) and type(u.complete) is bool
            and type(u.seq) is int and type(u.reported_ms) is int and type(u.reporting) is int
            and (u.registered_voters is None or type(u.registered_voters) is int)
            and (u.precincts_total is None or type(u.precincts_total) is int)
            and isinstance(u.votes, dict) and all(type(n) is int for n in u.votes.values())
            and all(isinstance(county, str) for county in u.former))


def usable(checkpoint: Checkpoint, committed: dict[str, int]) -> bool:
    """Whether every offset the checkpoint includes is at or below the committed one."""
    return all(checkpoint.offsets.get(topic, 0) <= end for topic, end in committed.items())


@dataclass
class PartitionCheckpoints:
    """The checkpoints of the partitions this worker owns (`owned()`): restored at a rebuild,
    written on a timer while `may_write()` (tallies whole, no freeze fence). `positions` is the
    worker's own map of (input topic, partition) -> next offset, which the hot path keeps."""

    settings: Settings
    room: CountingRoom
    positions: dict[tuple[str, int], int]
    owned: Callable[[], AbstractSet[int]]
    input_topics: tuple[str, ...]
    may_write: Callable[[], bool]
    metrics: WorkerMetrics
    checkpointed: dict[int, dict[str, int]] = field(default_factory=dict)  # partition -> offsets of its last one
    positions_last_tick: dict[tuple[str, int], int] = field(default_factory=dict)
    checkpoint_failures: int = 0  # in a row: logged on the first and when they stop
    identity: LogIdentity | None = None  # the log the offsets count in: none written or restored before it is read
    clock: Callable[[], float] = time.monotonic  # the rounds' pace is judged by it (tests give their own)
    pace: CheckpointPace = field(init=False)

    def __post_init__(self) -> None:
        self.pace = CheckpointPace(self.settings.checkpoint_interval_s)

    @property
    def checkpoints(self) -> Path:
        return Path(self.settings.data_dir) / "worker" / "checkpoints" / app_id(self.settings)

    async def read_identity(self) -> None:
        """Ask the broker which cluster and topics the offsets count in now (before each rebuild:
        a topic may have been re-created meanwhile), so a checkpoint of another log is set aside."""
        self.identity = await log_identity(self.settings, self.input_topics, app_id(self.settings))

    def restore_checkpoints(self, committed: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        """Restore each partition's usable checkpoint; where to start reading the log instead of 0."""
        starts: dict[TopicPartition, int] = {}
        identity = self.identity
        if identity is None:
            return starts
        for partition in sorted({tp.partition for tp in committed}):
            ends = {tp.topic: end for tp, end in committed.items() if tp.partition == partition}
            found = usable_checkpoint(checkpoint_path(self.checkpoints, partition), ends, identity)
            if found is None:
                continue
            units = 0
            for key, rows, kafka_ms in found.tallies:
                for precinct_id, unit in rows:
                    self.room.restore(key, precinct_id, unit)
                self.room.restore_kafka_time(key, kafka_ms)
                units += len(rows)
            starts.update({TopicPartition(topic, partition): found.offsets.get(topic, 0) for topic in ends})
            log.info("partition %d: %d units restored from its checkpoint at %s", partition, units, found.offsets)
        return starts

    async def write_checkpoints(self) -> None:
        """When a round is due (`CheckpointPace`: as soon as input goes quiet, else every
        `checkpoint_interval_s` and no more often than a bounded share of the time allows), write
        the checkpoint of every owned partition whose tallies moved since its last one.

        Synchronous from the first tally read to the last file's bytes: no record is applied in
        between, so a file holds exactly the records before its offsets. The writes that follow
        run in a thread; a checkpoint counts as written (`checkpointed`) once it is renamed."""
        identity = self.identity
        if not self.may_write() or identity is None:
            return
        quiet = self.positions == self.positions_last_tick
        self.positions_last_tick = dict(self.positions)
        began = self.clock()
        if not self.pace.due(began, quiet):
            return
        by_partition: dict[int, list[RaceTally]] = {}
        for key, tally in self.room.tallies.items():
            by_partition.setdefault(home_partition(key.home, self.settings.partitions), []).append(tally)
        encoded = []
        for partition in sorted(self.owned()):
            offsets = {topic: self.positions.get((topic, partition), 0) for topic in self.input_topics}
            if offsets != self.checkpointed.get(partition):
                encoded.append((partition, offsets,
                                encode_checkpoint(identity, offsets, by_partition.get(partition, []))))
        self.pace.encoded(began, self.clock())
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
