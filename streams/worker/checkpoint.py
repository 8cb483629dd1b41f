"""Checkpoints: a partition's tallies on local disk, so that a restart need not re-read the night.

The input log is the source of truth (streams.worker.rebuild); a checkpoint only shortens the
read. Every `checkpoint_interval_s`, and whenever input goes quiet, the worker writes, per
owned partition, every unit of the tallies that live there together with the input offsets
they include (the next offset to read of `precinct-results[p]` and of the re-keyed topic's
`[p]`). One file per partition, written whole to a temporary name and renamed over the old
one: one atomic write for all of its reports (design rule 1), never a file half old, half new.

The file before the newest is kept too (`.prev`): a worker killed mid-burst has often just
written a checkpoint past faust's last commit (both happen every second or so), and the one
before it is then at or below the commit. At assignment the newest checkpoint whose offsets
are at or below the group's committed offsets is used, and the records between the two are
read from the log as usual. A checkpoint past the committed offsets (the worker died after
writing it, before faust committed them) is set aside, because the records past the commit
will come again as fresh ones and must raise their alerts then; a missing, unreadable or
foreign file is set aside too. Setting one aside only costs time: the partition is then
rebuilt from the start of the log.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import TopicPartition

from streams.contract import TallyKey
from streams.counting.room import CountingRoom
from streams.counting.tally import RaceTally, StoredUnit, unit_from_row, unit_row
from streams.errors import VotewireError
from streams.kafka.topics import home_partition
from streams.metrics import WorkerMetrics
from streams.settings import Settings
from streams.worker.app import app_id

log = logging.getLogger(__name__)

# /2: tallies live on the home partition of their state key (design rule 3). A /1 file holds
# the tallies of a partition under the older race-key layout, where a race may have lived on
# another partition: it is set aside (rebuilt from the log), never restored into the wrong place.
FORMAT = "votewire-checkpoint/2"


@dataclass(frozen=True)
class Checkpoint:
    offsets: dict[str, int]  # input topic name -> next offset to read in this partition
    tallies: list[tuple[TallyKey, list[tuple[str, StoredUnit]]]]


def checkpoint_path(directory: Path, partition: int) -> Path:
    return directory / f"partition-{partition}.json"


def encode_checkpoint(offsets: dict[str, int], tallies: Iterable[RaceTally]) -> bytes:
    """The file's bytes: the tallies as they are now (the worker calls this between records)."""
    # Hundreds of thousands of short-lived rows: with the cyclic collector on, their allocation
    # set off full collections over the whole national state (measured: 2.1 s of CPU for 310,000
    # units against 0.4 s without). The rows hold no cycles; reference counting frees them.
    gc.disable()
    try:
        doc = {"format": FORMAT, "offsets": offsets,
               "tallies": [[list(t.key), [unit_row(p, u) for p, u in t.units()]] for t in tallies]}
        return orjson.dumps(doc)
    finally:
        gc.enable()


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


def usable_checkpoint(path: Path, committed: dict[str, int]) -> Checkpoint | None:
    """The newer of the checkpoint at `path` and its predecessor that `usable` allows, or None."""
    for candidate in (path, previous_path(path)):
        found = read_checkpoint(candidate)
        if found is not None and usable(found, committed):
            return found
    return None


def read_checkpoint(path: Path) -> Checkpoint | None:
    """The checkpoint at `path`, or None (logged) when there is none that votewire wrote."""
    try:
        doc = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError) as exc:
        log.warning("checkpoint %s unreadable (%s): rebuilding from the log", path, exc)
        return None
    try:
        return _parse(doc)
    except (VotewireError, KeyError, TypeError, ValueError) as exc:
        log.warning("checkpoint %s is not one votewire wrote (%s): rebuilding from the log", path, exc)
        return None


def _parse(doc: Any) -> Checkpoint:
    if doc.get("format") != FORMAT:
        raise VotewireError(f"format is {doc.get('format')!r}, want {FORMAT!r}")
    offsets = {str(topic): int(offset) for topic, offset in doc["offsets"].items()}
    tallies = [(TallyKey(*key), [unit_from_row(row) for row in rows]) for key, rows in doc["tallies"]]
    return Checkpoint(offsets, tallies)


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
    checkpoint_at: float = 0.0  # loop time of the last round of checkpoints
    checkpoint_failures: int = 0  # in a row: logged on the first and when they stop

    @property
    def checkpoints(self) -> Path:
        return Path(self.settings.data_dir) / "worker" / "checkpoints" / app_id(self.settings)

    def restore_checkpoints(self, committed: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        """Restore each partition's usable checkpoint; where to start reading the log instead of 0."""
        starts: dict[TopicPartition, int] = {}
        for partition in sorted({tp.partition for tp in committed}):
            ends = {tp.topic: end for tp, end in committed.items() if tp.partition == partition}
            found = usable_checkpoint(checkpoint_path(self.checkpoints, partition), ends)
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
        if not self.may_write():
            return
        quiet = self.positions == self.positions_last_tick
        self.positions_last_tick = dict(self.positions)
        now = asyncio.get_running_loop().time()
        if not self.checkpoint_at:
            self.checkpoint_at = now  # the interval counts from the first tick with whole tallies
        if not quiet and now - self.checkpoint_at < self.settings.checkpoint_interval_s:
            return
        self.checkpoint_at = now
        by_partition: dict[int, list[RaceTally]] = {}
        for key, tally in self.room.tallies.items():
            by_partition.setdefault(home_partition(key.home, self.settings.partitions), []).append(tally)
        encoded = []
        for partition in sorted(self.owned()):
            offsets = {topic: self.positions.get((topic, partition), 0) for topic in self.input_topics}
            if offsets != self.checkpointed.get(partition):
                encoded.append((partition, offsets, encode_checkpoint(offsets, by_partition.get(partition, []))))
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
