"""The checkpoint encoder keeps each tally's encoded entry and encodes it again only when the
tally changed: its files are byte for byte what the encoder that encodes every unit writes
(tests/support/checkpoint_reference.py), after every kind of change, and an entry kept past a
change would write a wrong file."""

from __future__ import annotations

import dataclasses
import gc
import weakref
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.contract import TallyKey
from streams.counting.room import CountingRoom
from streams.counting.tally import RaceTally
from streams.worker.checkpoint import encode_checkpoint, read_checkpoint, store_checkpoint
from tests.support.checkpoint_reference import encode_every_unit
from tests.unit.test_checkpoint import IDENTITY, OFFSETS, a_tally
from tests.unit.test_counting import LIVE, report
from tests.unit.test_tally_properties import KEY, nights

AT = "2024-11-06T03:09:00Z"


def the_same_bytes(tallies: list[RaceTally]) -> bytes:
    data = encode_checkpoint(IDENTITY, OFFSETS, tallies)
    assert data == encode_every_unit(IDENTITY, OFFSETS, tallies)
    return data


def move_p2(t: RaceTally) -> None:
    t.apply(report("p2", 1, AT, 1, 2, county="27053"))


def restore_p1(t: RaceTally) -> None:
    p1 = t.unit("p1")
    assert p1 is not None
    t.restore("p1", dataclasses.replace(p1, votes={"harris": 99}))


# Each kind of change a tally sees, with what it changes in the tally's entry. a_tally() holds
# p1 (seq 3) and MINNEAPOLIS W-1/A in 27053, p2 in 27001, and p4, which moved from 27001 to 27123.
CHANGES: dict[str, Callable[[RaceTally], Any]] = {
    "a unit's next report": lambda t: t.apply(report("p1", 4, AT, 11, 5)),
    "a correction downwards": lambda t: t.apply(report("p1", 5, AT, 2, 1)),
    "a new unit": lambda t: t.apply(report("p9", 0, AT, 7, 7)),
    "a move to another county": move_p2,
    "a report from before a move, naming a third county": lambda t: t.apply(
        report("p4", 0, AT, 3, 3, county="27999")),  # only p4's former counties change, no sum
    "a restore": restore_p1,
    "a later Kafka time": lambda t: t.note_kafka_time(1_730_862_490_000),
}


@pytest.mark.parametrize("change", CHANGES)
def test_each_kind_of_change_encodes_the_tally_again(change: str) -> None:
    tally, other = a_tally(), RaceTally(TallyKey("e", "senate", "MN", "live"))
    other.apply(report("q1", 0, AT, 1, 1))
    before = the_same_bytes([tally, other])
    changes = tally.changes
    CHANGES[change](tally)
    assert tally.changes > changes, "a change the marker misses would keep the entry written before it"
    assert the_same_bytes([tally, other]) != before, "the change is in the file"


@pytest.mark.parametrize("nothing", [
    lambda t: t.apply(report("p1", 3, AT, 10, 5)),  # a duplicate
    lambda t: t.apply(report("p1", 1, AT, 10, 5)),  # stale, in the unit's own county
    lambda t: t.note_kafka_time(1_730_862_000_000),  # earlier than the tally's latest
    lambda t: t.note_kafka_time(None),
])
def test_what_changes_nothing_reuses_the_entry(nothing: Callable[[RaceTally], Any]) -> None:
    tally = a_tally()
    the_same_bytes([tally])
    kept = tally.encoded
    assert kept is not None, "the entry is kept on the tally"
    nothing(tally)
    the_same_bytes([tally])
    assert tally.encoded is kept


@settings(max_examples=100, deadline=None)
@given(nights(), st.lists(st.integers(0, 10_000), min_size=1))
def test_any_night_encoded_after_every_report_gives_the_encoder_of_every_units_bytes(
        night: Any, kafka_times: list[int]) -> None:
    stream, _ = night
    tally, other = RaceTally(KEY), RaceTally(TallyKey("2024-11-05", "senate", "MN", "live"))
    other.apply(dataclasses.replace(stream[0], race_id="senate"))
    for i, r in enumerate(stream):
        tally.apply(r)
        tally.note_kafka_time(1_730_854_800_000 + kafka_times[i % len(kafka_times)])
        the_same_bytes([other, tally])


def test_a_restored_room_writes_the_file_it_was_restored_from(tmp_path: Any) -> None:
    path = tmp_path / "partition-0.json"
    store_checkpoint(path, encode_checkpoint(IDENTITY, OFFSETS, [a_tally()]))
    found = read_checkpoint(path, IDENTITY)
    assert found is not None
    room = CountingRoom()
    for key, rows, kafka_ms in found.tallies:
        for precinct_id, unit in rows:
            room.restore(key, precinct_id, unit)
        room.restore_kafka_time(key, kafka_ms)
    assert the_same_bytes(list(room.tallies.values())) == path.read_bytes()


def test_a_forgotten_tally_takes_its_entry_with_it() -> None:
    """The entry lives on the tally: a partition lost frees its tallies' encoded bytes with them."""
    room, p1 = CountingRoom(), a_tally().unit("p1")
    assert p1 is not None
    room.restore(LIVE, "p1", p1)
    the_same_bytes(list(room.tallies.values()))
    gone = weakref.ref(room.tallies[LIVE])
    room.forget_tallies()
    gc.collect()
    assert gone() is None
