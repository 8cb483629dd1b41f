"""Checkpoints of a partition's tallies: written whole, read back exactly, and set aside (renamed,
one warning) when they belong to another log or are not what votewire writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry

from streams.contract import TallyKey
from streams.counting.tally import RaceTally
from streams.kafka.topic_ids import LogIdentity
from streams.settings import Settings
from streams.worker.agents import TallyWorker
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

REKEYED = "votewire-precinct-results-rekeyed"
IDENTITY = LogIdentity("cluster-A", "votewire", (("precinct-results", "id-1", 4), (REKEYED, "id-2", 4)))
OFFSETS = {"precinct-results": 41, REKEYED: 3}


def a_tally() -> RaceTally:
    tally = RaceTally(LIVE)
    tally.apply(report("p1", 3, "2024-11-06T03:00:00Z", 10, 5))
    tally.apply(report("p2", 0, "2024-11-06T03:05:00Z", 1, 2, county="27001"))
    tally.apply(report("MINNEAPOLIS W-1/A", 7, "2024-11-06T03:07:00Z", 4, 0))
    tally.apply(report("p4", 0, "2024-11-06T03:01:00Z", 3, 3, county="27001"))
    tally.apply(report("p4", 1, "2024-11-06T03:08:00Z", 3, 3, county="27123"))  # moved: 27001 keeps counting it
    tally.note_kafka_time(1_730_862_480_000)
    return tally


def write_checkpoint(path: Path, identity: LogIdentity, offsets: dict[str, int], tallies: list[RaceTally]) -> None:
    store_checkpoint(path, encode_checkpoint(identity, offsets, tallies))


def set_aside(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.set-aside-*"))


def test_a_checkpoint_reads_back_the_same_units_and_offsets(tmp_path: Path) -> None:
    path = checkpoint_path(tmp_path, 2)
    tally = a_tally()
    write_checkpoint(path, IDENTITY, OFFSETS, [tally])
    back = read_checkpoint(path, IDENTITY)
    assert back is not None
    assert (back.identity, back.offsets) == (IDENTITY, OFFSETS)
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
    write_checkpoint(path, IDENTITY, OFFSETS, [a_tally()])
    found = read_checkpoint(path, IDENTITY)
    assert found is not None
    assert usable(found, OFFSETS)
    assert usable(found, {**OFFSETS, "precinct-results": 50})
    assert not usable(found, {**OFFSETS, "precinct-results": 40})
    assert not usable(found, {**OFFSETS, REKEYED: 2})
    assert path.exists(), "one past the commit is passed over, not set aside: it is this log's"


@pytest.mark.parametrize(("now", "said"), [
    (LogIdentity("cluster-B", "votewire", IDENTITY.topics), "cluster cluster-A, now cluster-B"),
    (LogIdentity("cluster-A", "votewire", (("precinct-results", "id-9", 4), (REKEYED, "id-2", 4))),
     "topics precinct-results (id id-1, 4 partitions), "),
    (LogIdentity("cluster-A", "votewire", (("precinct-results", "id-1", 8), (REKEYED, "id-2", 8))),
     ", now precinct-results (id id-1, 8 partitions)"),
    (LogIdentity("cluster-A", "votewire-staging", IDENTITY.topics), "app id votewire, now votewire-staging"),
])
def test_a_checkpoint_of_another_log_is_set_aside_with_one_warning(
        tmp_path: Path, now: LogIdentity, said: str, caplog: pytest.LogCaptureFixture) -> None:
    path = checkpoint_path(tmp_path, 1)
    write_checkpoint(path, IDENTITY, OFFSETS, [a_tally()])
    assert read_checkpoint(path, now) is None
    [aside] = set_aside(tmp_path)
    assert not path.exists()
    assert aside.name.startswith("partition-1.json.set-aside-")
    [warning] = caplog.records
    assert said in warning.getMessage()
    assert "rebuilding from the log" in warning.getMessage()
    assert read_checkpoint(aside, IDENTITY) is not None, "renamed, not changed"


def test_a_foreign_predecessor_is_set_aside_too(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The newest is past the commit, so the one before would be used: it is another cluster's."""
    path = checkpoint_path(tmp_path, 0)
    write_checkpoint(path, IDENTITY, OFFSETS, [a_tally()])
    now = LogIdentity("cluster-B", "votewire", IDENTITY.topics)
    write_checkpoint(path, now, {"precinct-results": 90, REKEYED: 3}, [a_tally()])
    assert usable_checkpoint(path, {"precinct-results": 50, REKEYED: 3}, now) is None
    assert [p.name.split(".set-aside")[0] for p in set_aside(tmp_path)] == ["partition-0.json.prev"]
    assert len(caplog.records) == 1
    assert path.exists()


def valid_doc() -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(encode_checkpoint(IDENTITY, OFFSETS, [a_tally()]))
    return doc


def changed(change: str) -> Any:
    """A valid file's document with one thing of another type (a file another version wrote)."""
    doc = valid_doc()
    row = doc["tallies"][0][1][0]
    changes = {
        "list": lambda: [doc], "offsets list": lambda: doc.update(offsets=[41, 3]),
        "offset text": lambda: doc["offsets"].update({"precinct-results": "41"}),
        "tallies map": lambda: doc.update(tallies={}), "key numbers": lambda: doc["tallies"][0].__setitem__(0, [1] * 4),
        "key mode": lambda: doc["tallies"][0][0].__setitem__(3, "rehearsal"),
        "votes text": lambda: row.__setitem__(5, "12"), "a vote text": lambda: row.__setitem__(5, {"c1": "12"}),
        "seq text": lambda: row.__setitem__(2, "3"), "complete text": lambda: row.__setitem__(6, "yes"),
        "short row": lambda: row.pop(), "no identity": lambda: doc.pop("identity"),
        "identity topics": lambda: doc["identity"].update(topics=[["precinct-results", "id-1"]]),
        "kafka time text": lambda: doc["tallies"][0].__setitem__(2, "soon"),
        "former not a list": lambda: row.__setitem__(10, 27001),
    }
    replaced = changes[change]()
    return replaced if replaced is not None else doc


CHANGES = ["list", "offsets list", "offset text", "tallies map", "key numbers", "key mode", "votes text",
           "a vote text", "seq text", "complete text", "short row", "no identity", "identity topics",
           "kafka time text", "former not a list"]


@pytest.mark.parametrize("change", CHANGES)
def test_a_file_of_the_wrong_types_is_set_aside(tmp_path: Path, change: str,
                                                caplog: pytest.LogCaptureFixture) -> None:
    path = checkpoint_path(tmp_path, 1)
    path.write_bytes(orjson.dumps(changed(change)))
    assert read_checkpoint(path, IDENTITY) is None
    assert len(set_aside(tmp_path)) == 1
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "rebuilding from the log" in caplog.text


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"format": "something-else/1"}',
                                     b'{"format": "votewire-checkpoint/2", "offsets": {}, "tallies": [[["e"], [], 1]]}',
                                     b'{"format": "votewire-checkpoint/2", "offsets": {"t": 1}, "tallies": [[["e", '
                                     b'"r", "s", "live"], [["p1", "27001"]], 1]]}',
                                     b'{"format": "votewire-checkpoint/2", "offsets": {"t": 1}, "tallies": [[["e", '
                                     b'"r", "s", "live"], [], "soon"]]}',
                                     b'{"format": "votewire-checkpoint/1", "offsets": {"t": 1}, "tallies": []}',
                                     b'{"format": "votewire-checkpoint/1", "offsets": {}, "tallies": [[["e"], []]]}',
                                     b'{"format": "votewire-checkpoint/1", "offsets": {"t": 1}, "tallies": [[["e", '
                                     b'"r", "s", "live"], [["p1", "27001"]]]]}'])
def test_a_broken_or_foreign_checkpoint_is_set_aside(tmp_path: Path, content: bytes,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    path = checkpoint_path(tmp_path, 1)
    path.write_bytes(content)
    assert read_checkpoint(path, IDENTITY) is None
    assert len(set_aside(tmp_path)) == 1
    assert "rebuilding from the log" in caplog.text


def test_a_checkpoint_of_the_race_keyed_layout_is_set_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Format /3 (and before) held a partition's tallies when a race's home was its race key's
    # partition; restored now, its races would sit on partitions that are no longer theirs.
    path = checkpoint_path(tmp_path, 1)
    write_checkpoint(path, IDENTITY, OFFSETS, [a_tally()])
    path.write_bytes(path.read_bytes().replace(FORMAT.encode(), b"votewire-checkpoint/3"))
    assert read_checkpoint(path, IDENTITY) is None
    assert "'votewire-checkpoint/3'" in caplog.text
    assert "rebuilding from the log" in caplog.text


def test_a_checkpoint_from_before_kafka_times_were_kept_is_set_aside(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    """A file of an earlier format has no tally's Kafka time: restored, a live race would stay
    embargoed until its next record (or, taking its source time instead, be released on one
    unit's clock). The partition is rebuilt from the log instead, which has every record's time."""
    path = checkpoint_path(tmp_path, 1)
    row = ["p1", "27001", 0, 1_730_862_000_000, "2024-11-06T03:00:00Z", {"harris": 1}, True, 1, None, None]
    doc = orjson.loads(encode_checkpoint(IDENTITY, OFFSETS, []))
    path.write_bytes(orjson.dumps({**doc, "format": "votewire-checkpoint/2", "tallies": [[list(LIVE), [row]]]}))
    assert read_checkpoint(path, IDENTITY) is None
    assert f"not {FORMAT!r}" in caplog.text
    assert "rebuilding from the log" in caplog.text


def test_no_checkpoint_is_no_checkpoint(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert read_checkpoint(checkpoint_path(tmp_path, 3), IDENTITY) is None
    assert not caplog.records


def test_the_newest_usable_of_a_checkpoint_and_its_predecessor_is_used(tmp_path: Path) -> None:
    path = checkpoint_path(tmp_path, 0)
    write_checkpoint(path, IDENTITY, {"precinct-results": 10, REKEYED: 0}, [a_tally()])
    write_checkpoint(path, IDENTITY, {"precinct-results": 20, REKEYED: 0}, [a_tally()])
    newest = usable_checkpoint(path, {"precinct-results": 25, REKEYED: 0}, IDENTITY)
    older = usable_checkpoint(path, {"precinct-results": 15, REKEYED: 0}, IDENTITY)  # the newest is past the commit
    assert newest is not None
    assert older is not None
    assert (newest.offsets["precinct-results"], older.offsets["precinct-results"]) == (20, 10)
    assert usable_checkpoint(path, {"precinct-results": 5, REKEYED: 0}, IDENTITY) is None
    assert not set_aside(tmp_path)


@pytest.mark.parametrize("version", ["votewire-checkpoint/1", FORMAT])
@pytest.mark.parametrize("change", ["votes text", "a vote text", "seq text", "offsets list", "list", "key numbers"])
def test_a_file_of_another_version_never_stops_a_rebuild(tmp_path: Path, version: str, change: str) -> None:
    """The rebuild restores checkpoints first; one that raised there made it retry forever, and
    the worker never became ready. The file is set aside and the partition read from the start."""
    worker = TallyWorker(Settings(data_dir=str(tmp_path), partitions=4), CollectorRegistry())
    worker.checkpoints.identity = IDENTITY
    doc = changed(change)
    if isinstance(doc, dict):
        doc["format"] = version
    path = checkpoint_path(worker.checkpoints.checkpoints, 0)
    path.parent.mkdir(parents=True)
    path.write_bytes(orjson.dumps(doc))
    committed = {TopicPartition(topic, 0): 100 for topic in worker.input_topics}
    assert worker.checkpoints.restore_checkpoints(committed) == {}
    assert not worker.room.tallies
