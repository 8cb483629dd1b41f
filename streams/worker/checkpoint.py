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

Besides its units, a tally's checkpoint holds the latest time Kafka gave its records (the
embargo needs it, design rule 7: it is no unit's, so no unit row holds it). Format 1 files,
written before, lack it (and the counties units moved from): they are set aside like any
file of another format, and the partition is rebuilt from the log once, which finds both.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from streams.contract import TallyKey
from streams.errors import VotewireError
from streams.tally import RaceTally, StoredUnit, unit_from_row, unit_row

log = logging.getLogger(__name__)

FORMAT = "votewire-checkpoint/2"


class TallyCheckpoint(NamedTuple):
    key: TallyKey
    units: list[tuple[str, StoredUnit]]  # precinct_id, its latest accepted report
    kafka_ms: int | None  # RaceTally.kafka_ms


@dataclass(frozen=True)
class Checkpoint:
    offsets: dict[str, int]  # input topic name -> next offset to read in this partition
    tallies: list[TallyCheckpoint]


def checkpoint_path(directory: Path, partition: int) -> Path:
    return directory / f"partition-{partition}.json"


def write_checkpoint(path: Path, offsets: dict[str, int], tallies: Iterable[RaceTally]) -> None:
    store_checkpoint(path, encode_checkpoint(offsets, tallies))


def encode_checkpoint(offsets: dict[str, int], tallies: Iterable[RaceTally]) -> bytes:
    """The file's bytes: the tallies as they are now (the worker calls this between records)."""
    # Hundreds of thousands of short-lived rows: with the cyclic collector on, their allocation
    # set off full collections over the whole national state (measured: 2.1 s of CPU for 310,000
    # units against 0.4 s without). The rows hold no cycles; reference counting frees them.
    gc.disable()
    try:
        doc = {"format": FORMAT, "offsets": offsets,
               "tallies": [[list(t.key), [unit_row(p, u) for p, u in t.units()], t.kafka_ms] for t in tallies]}
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
    tallies = [TallyCheckpoint(TallyKey(*key), [unit_from_row(row) for row in rows], _kafka_ms(kafka_ms))
               for key, rows, kafka_ms in doc["tallies"]]
    return Checkpoint(offsets, tallies)


def _kafka_ms(value: Any) -> int | None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise VotewireError(f"a tally's Kafka time is {value!r}, not milliseconds")
    return value


def usable(checkpoint: Checkpoint, committed: dict[str, int]) -> bool:
    """Whether every offset the checkpoint includes is at or below the committed one."""
    return all(checkpoint.offsets.get(topic, 0) <= end for topic, end in committed.items())
