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
writing it, before faust committed them) is passed over, because the records past the commit
will come again as fresh ones and must raise their alerts then. Setting one aside only costs
time: the partition is then rebuilt from the start of the log.

Offsets belong to a log: a topic deleted and created again under the same name starts at 0
again, and a broker that lost its data is another cluster. So a checkpoint names what it
belongs to (`LogIdentity`: the cluster id, each input topic's id and partition count, the app
id) and its format version. A file written for anything else, or one that votewire did not
write (unreadable, another format, a field of the wrong type), is renamed out of the way
(`<name>.set-aside-<UTC time>`, kept for a look) with one warning, never restored: restoring
it would count units of another night and skip this log's records below its offsets.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from streams.contract import MODES, TallyKey
from streams.errors import VotewireError
from streams.tally import RaceTally, StoredUnit, unit_from_row, unit_row

log = logging.getLogger(__name__)

FORMAT = "votewire-checkpoint/2"  # /1 had no identity


@dataclass(frozen=True)
class LogIdentity:
    """The log a checkpoint's offsets count in (streams.worker.topic_ids reads it from the broker)."""

    cluster_id: str
    app_id: str
    topics: tuple[tuple[str, str, int], ...]  # (name, topic id, partitions) of each input topic, by name

    def differences(self, other: LogIdentity) -> list[str]:
        """What differs from `other` (the log as it is now), in words."""
        said = [f"cluster {self.cluster_id}, now {other.cluster_id}"] if self.cluster_id != other.cluster_id else []
        said += [f"app id {self.app_id}, now {other.app_id}"] if self.app_id != other.app_id else []
        if self.topics != other.topics:
            said.append("topics " + _topics_text(self.topics) + ", now " + _topics_text(other.topics))
        return said


def _topics_text(topics: tuple[tuple[str, str, int], ...]) -> str:
    return ", ".join(f"{name} (id {topic_id}, {partitions} partitions)" for name, topic_id, partitions in topics)


@dataclass(frozen=True)
class Checkpoint:
    identity: LogIdentity
    offsets: dict[str, int]  # input topic name -> next offset to read in this partition
    tallies: list[tuple[TallyKey, list[tuple[str, StoredUnit]]]]


class UnusableCheckpoint(VotewireError):
    """A checkpoint file that must not be restored: why, in words."""


def checkpoint_path(directory: Path, partition: int) -> Path:
    return directory / f"partition-{partition}.json"


def write_checkpoint(path: Path, identity: LogIdentity, offsets: dict[str, int], tallies: Iterable[RaceTally]) -> None:
    store_checkpoint(path, encode_checkpoint(identity, offsets, tallies))


def encode_checkpoint(identity: LogIdentity, offsets: dict[str, int], tallies: Iterable[RaceTally]) -> bytes:
    """The file's bytes: the tallies as they are now (the worker calls this between records)."""
    # Hundreds of thousands of short-lived rows: with the cyclic collector on, their allocation
    # set off full collections over the whole national state (measured: 2.1 s of CPU for 310,000
    # units against 0.4 s without). The rows hold no cycles; reference counting frees them.
    gc.disable()
    try:
        doc = {"format": FORMAT, "offsets": offsets,
               "identity": {"cluster_id": identity.cluster_id, "app_id": identity.app_id,
                            "topics": [list(topic) for topic in identity.topics]},
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


def _identity(raw: Any) -> LogIdentity:
    topics = raw.get("topics") if isinstance(raw, dict) else None
    if not (isinstance(topics, list) and isinstance(raw.get("cluster_id"), str) and isinstance(raw.get("app_id"), str)
            and all(isinstance(t, list) and len(t) == 3 and isinstance(t[0], str) and isinstance(t[1], str)
                    and type(t[2]) is int for t in topics)):
        raise UnusableCheckpoint(f"it does not say which log it belongs to ({str(raw)[:100]})")
    return LogIdentity(raw["cluster_id"], raw["app_id"], tuple((name, tid, n) for name, tid, n in topics))


def _tally(entry: Any) -> tuple[TallyKey, list[tuple[str, StoredUnit]]]:
    key, rows = entry if isinstance(entry, list) and len(entry) == 2 else (None, None)
    if not (isinstance(key, list) and len(key) == 4 and all(isinstance(k, str) for k in key) and key[3] in MODES
            and isinstance(rows, list)):
        raise UnusableCheckpoint(f"a tally is not one votewire writes ({str(entry)[:100]})")
    return TallyKey(*key), [_unit(row) for row in rows]


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
            and isinstance(u.votes, dict) and all(type(n) is int for n in u.votes.values()))


def usable(checkpoint: Checkpoint, committed: dict[str, int]) -> bool:
    """Whether every offset the checkpoint includes is at or below the committed one."""
    return all(checkpoint.offsets.get(topic, 0) <= end for topic, end in committed.items())
