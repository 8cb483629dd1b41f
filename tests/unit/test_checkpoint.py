"""Checkpoints of a partition's tallies: written whole, read back exactly, set aside when not usable."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.contract import TallyKey
from streams.counting.tally import RaceTally
from streams.worker.checkpoint import (
    FORMAT,
    checkpoint_path,
    encode_checkpoint,
    read_checkpoint,
    store_checkpoint,
    usable,
    usable_checkpoint,
)
from tests.unit.test_counting import LIVE, report


def a_tally() -> RaceTally:
    tally = RaceTally(LIVE)
    tally.apply(report("p1", 3, "2024-11-06T03:00:00Z", 10, 5))
    tally.apply(report("p2", 0, "2024-11-06T03:05:00Z", 1, 2, county="27001"))
    tally.apply(report("MINNEAPOLIS W-1/A", 7, "2024-11-06T03:07:00Z", 4, 0))
    return tally


def test_a_checkpoint_reads_back_the_same_units_and_offsets(tmp_path: Path) -> None:
    path = checkpoint_path(tmp_path, 2)
    tally = a_tally()
    store_checkpoint(path, encode_checkpoint({"precinct-results": 41, "rekeyed": 3}, [tally]))
    back = read_checkpoint(path)
    assert back is not None
    assert back.offsets == {"precinct-results": 41, "rekeyed": 3}
    [(key, rows)] = back.tallies
    assert key == LIVE
    assert isinstance(key, TallyKey)
    assert dict(rows) == dict(tally.units())
    rebuilt = RaceTally(key)
    for precinct_id, unit in rows:
        rebuilt.restore(precinct_id, unit)
    assert (rebuilt.votes, rebuilt.total_votes, rebuilt.seq_sum, rebuilt.as_of) == (
        tally.votes, tally.total_votes, tally.seq_sum, tally.as_of)
    assert not list(tmp_path.glob("*.tmp")), "the temporary file is renamed, not left"


def test_a_newer_checkpoint_than_the_committed_offsets_is_not_usable(tmp_path: Path) -> None:
    path = checkpoint_path(tmp_path, 0)
    store_checkpoint(path, encode_checkpoint({"precinct-results": 41, "rekeyed": 3}, [a_tally()]))
    found = read_checkpoint(path)
    assert found is not None
    assert usable(found, {"precinct-results": 41, "rekeyed": 3})
    assert usable(found, {"precinct-results": 50, "rekeyed": 3})
    assert not usable(found, {"precinct-results": 40, "rekeyed": 3})
    assert not usable(found, {"precinct-results": 41, "rekeyed": 2})


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"format": "something-else/1"}',
                                     b'{"format": "votewire-checkpoint/2", "offsets": {}, "tallies": [[["e"], []]]}',
                                     b'{"format": "votewire-checkpoint/2", "offsets": {"t": 1}, "tallies": [[["e", '
                                     b'"r", "s", "live"], [["p1", "27001"]]]]}'])
def test_a_broken_or_foreign_checkpoint_is_set_aside(tmp_path: Path, content: bytes,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    path = checkpoint_path(tmp_path, 1)
    path.write_bytes(content)
    assert read_checkpoint(path) is None
    assert "rebuilding from the log" in caplog.text


def test_a_checkpoint_of_the_race_keyed_layout_is_set_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Format /1 held a partition's tallies when a race's home was its race key's partition;
    # restored now, its races would sit on partitions that are no longer theirs.
    path = checkpoint_path(tmp_path, 1)
    store_checkpoint(path, encode_checkpoint({"precinct-results": 41}, [a_tally()]))
    path.write_bytes(path.read_bytes().replace(FORMAT.encode(), b"votewire-checkpoint/1"))
    assert read_checkpoint(path) is None
    assert "'votewire-checkpoint/1'" in caplog.text


def test_no_checkpoint_is_no_checkpoint(tmp_path: Path) -> None:
    assert read_checkpoint(checkpoint_path(tmp_path, 3)) is None


def test_the_newest_usable_of_a_checkpoint_and_its_predecessor_is_used(tmp_path: Path) -> None:
    path = checkpoint_path(tmp_path, 0)
    store_checkpoint(path, encode_checkpoint({"precinct-results": 10, "rekeyed": 0}, [a_tally()]))
    store_checkpoint(path, encode_checkpoint({"precinct-results": 20, "rekeyed": 0}, [a_tally()]))
    newest = usable_checkpoint(path, {"precinct-results": 25, "rekeyed": 0})
    older = usable_checkpoint(path, {"precinct-results": 15, "rekeyed": 0})  # the newest is past the commit
    assert newest is not None
    assert older is not None
    assert (newest.offsets["precinct-results"], older.offsets["precinct-results"]) == (20, 10)
    assert usable_checkpoint(path, {"precinct-results": 5, "rekeyed": 0}) is None
