"""Checkpoints of a partition's tallies: written whole, read back exactly, set aside when not usable."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.contract import TallyKey
from streams.counting.tally import RaceTally
from streams.worker.checkpoint import (
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
    tally.apply(report("p4", 0, "2024-11-06T03:01:00Z", 3, 3, county="27001"))
    tally.apply(report("p4", 1, "2024-11-06T03:08:00Z", 3, 3, county="27123"))  # moved: 27001 keeps counting it
    tally.note_kafka_time(1_730_862_480_000)
    return tally


def test_a_checkpoint_reads_back_the_same_units_and_offsets(tmp_path: Path) -> None:
    path = checkpoint_path(tmp_path, 2)
    tally = a_tally()
    store_checkpoint(path, encode_checkpoint({"precinct-results": 41, "rekeyed": 3}, [tally]))
    back = read_checkpoint(path)
    assert back is not None
    assert back.offsets == {"precinct-results": 41, "rekeyed": 3}
    [(key, rows, kafka_ms)] = back.tallies
    assert key == LIVE
    assert isinstance(key, TallyKey)
    assert dict(rows) == dict(tally.units())
    assert kafka_ms == 1_730_862_480_000, "the embargo's Kafka time is no unit's: the checkpoint carries it"
    rebuilt = RaceTally(key)
    for precinct_id, unit in rows:
        rebuilt.restore(precinct_id, unit)
    rebuilt.note_kafka_time(kafka_ms)
    assert (rebuilt.votes, rebuilt.total_votes, rebuilt.seq_sum, rebuilt.as_of, rebuilt.embargo_ms) == (
        tally.votes, tally.total_votes, tally.seq_sum, tally.as_of, tally.embargo_ms)
    assert {f: c.version_seq_sum for f, c in rebuilt.counties.items()} == {
        f: c.version_seq_sum for f, c in tally.counties.items()}
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
                                     b'{"format": "votewire-checkpoint/2", "offsets": {}, "tallies": [[["e"], [], 1]]}',
                                     b'{"format": "votewire-checkpoint/2", "offsets": {"t": 1}, "tallies": [[["e", '
                                     b'"r", "s", "live"], [["p1", "27001"]], 1]]}',
                                     b'{"format": "votewire-checkpoint/2", "offsets": {"t": 1}, "tallies": [[["e", '
                                     b'"r", "s", "live"], [], "soon"]]}'])
def test_a_broken_or_foreign_checkpoint_is_set_aside(tmp_path: Path, content: bytes,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    path = checkpoint_path(tmp_path, 1)
    path.write_bytes(content)
    assert read_checkpoint(path) is None
    assert "rebuilding from the log" in caplog.text


def test_a_checkpoint_from_before_kafka_times_were_kept_is_set_aside(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    """A format 1 file has no tally's Kafka time: restored, a live race would stay embargoed
    until its next record (or, taking its source time instead, be released on one unit's
    clock). The partition is rebuilt from the log instead, which has every record's time."""
    path = checkpoint_path(tmp_path, 1)
    row = ["p1", "27001", 0, 1_730_862_000_000, "2024-11-06T03:00:00Z", {"harris": 1}, True, 1, None, None]
    path.write_bytes(orjson.dumps({"format": "votewire-checkpoint/1", "offsets": {"precinct-results": 4},
                                   "tallies": [[list(LIVE), [row]]]}))
    assert read_checkpoint(path) is None
    assert "want 'votewire-checkpoint/2'" in caplog.text
    assert "rebuilding from the log" in caplog.text


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
