"""The worker's derived state without Kafka: coalesced publishing, embargo, restore, polls closed."""

from __future__ import annotations

import dataclasses
from typing import Any

from streams.contract import Alert, PrecinctReport, TallyKey
from streams.contract.messages import parse_expected_vote, parse_precinct_report, parse_race_definition
from streams.counting.room import CountingRoom, Snapshot
from streams.counting.tally import Applied, unit_from_row, unit_row

RACE = {"schema": "race-definition/1", "election_id": "e", "race_id": "president", "state": "MN",
        "office": "U.S. President", "precincts_total": 3, "polls_close": "2024-11-06T02:00:00Z", "certified": False,
        "candidates": [{"candidate_id": "harris", "name": "Kamala Harris", "party": "DFL"},
                       {"candidate_id": "trump", "name": "Donald Trump", "party": "R"}]}
LIVE = TallyKey("e", "president", "MN", "live")


def due(room: CountingRoom) -> list[Snapshot]:
    """What one publish round takes from the room: the state snapshots, then the counties'."""
    return [*room.due_state_snapshots(), *room.due_county_snapshots()]


def report(unit: str, seq: int, at: str, harris: int, trump: int, county: str = "27053") -> Any:
    return parse_precinct_report({
        "schema": "precinct-result/1", "election_id": "e", "race_id": "president", "state": "MN",
        "county_fips": county, "precinct_id": unit, "seq": seq, "reported_at": at,
        "votes": {"harris": harris, "trump": trump}, "complete": True})


def apply_one(room: CountingRoom, report: PrecinctReport) -> tuple[Applied, list[Alert]]:
    """A record of one report."""
    [applied], alerts = room.apply_record([report])
    return applied, alerts


def room_with_race() -> CountingRoom:
    room = CountingRoom()
    room.book.put_definition(parse_race_definition(RACE))
    return room


def test_many_reports_make_one_snapshot_per_key_per_round() -> None:
    room = room_with_race()
    for seq in range(5):
        apply_one(room, report("p1", seq, "2024-11-06T03:00:00Z", 10 + seq, 5))
    apply_one(room, report("p2", 0, "2024-11-06T03:05:00Z", 1, 2, county="27001"))
    snaps = list(due(room))
    assert [(s.kind, s.key) for s in snaps] == [
        ("state", "e/president/MN/live"), ("county", "e/president/MN/27001/live"),
        ("county", "e/president/MN/27053/live")]
    assert snaps[0].value["total_votes"] == 14 + 5 + 1 + 2
    assert list(due(room)) == []  # nothing new: nothing to send


def test_nothing_is_released_before_polls_close_and_the_count_is_kept() -> None:
    room = room_with_race()
    apply_one(room, report("p1", 0, "2024-11-06T01:59:59Z", 10, 5))
    assert list(due(room)) == []
    assert room.embargoed == {LIVE}
    apply_one(room, report("p2", 0, "2024-11-06T02:00:00Z", 1, 1, county="27001"))
    snaps = list(due(room))
    assert snaps[0].value["total_votes"] == 17  # the early count is tallied, just not released early
    # the county whose only report came before polls close stays unpublished
    assert [s.key for s in snaps if s.kind == "county"] == ["e/president/MN/27001/live"]
    assert room.embargoed == set()


def test_no_alert_is_raised_on_embargoed_counts_but_after_polls_close() -> None:
    """A lead change before polls close would name the leader and the shares: an embargo leak."""
    room = room_with_race()
    room.book.put_expected(parse_expected_vote({
        "schema": "expected-vote/1", "election_id": "e", "race_id": "president", "state": "MN",
        "expected_votes": 40, "seq": 1, "issued_at": "2024-11-06T01:00:00Z"}))
    assert apply_one(room, report("p1", 0, "2024-11-06T01:30:00Z", 10, 5))[1] == []
    assert apply_one(room, report("p1", 1, "2024-11-06T01:59:59Z", 5, 30))[1] == []  # lead change, decrease
    revised = room.expected_changed(room.book.expected.get(LIVE.race), parse_expected_vote({
        "schema": "expected-vote/1", "election_id": "e", "race_id": "president", "state": "MN",
        "expected_votes": 45, "seq": 2, "issued_at": "2024-11-06T01:59:59Z"}))
    assert [a.type for a in revised] == ["expected_vote_revised"]  # an estimate carries no count
    _, alerts = apply_one(room, report("p1", 2, "2024-11-06T02:00:00Z", 40, 5))
    assert "lead_change" in [a.type for a in alerts]


def senate(unit: str, seq: int, at: str, harris: int, trump: int) -> Any:
    return dataclasses.replace(report(unit, seq, at, harris, trump), race_id="senate")


def test_a_poll_is_one_observation_per_race_and_marks_each_race_it_changed() -> None:
    room = room_with_race()
    room.book.put_definition(parse_race_definition({**RACE, "race_id": "senate"}))
    room.apply_record([report("p1", 0, "2024-11-06T03:00:00Z", 10, 9), senate("p1", 0, "2024-11-06T03:00:00Z", 5, 4)])
    list(due(room))
    # President: Trump ahead after p2, Harris again after p3; senate: Trump takes the lead.
    results, alerts = room.apply_record([
        report("p2", 0, "2024-11-06T03:10:00Z", 0, 5), report("p3", 0, "2024-11-06T03:10:00Z", 9, 0),
        senate("p2", 0, "2024-11-06T03:10:00Z", 0, 3), senate("p1", 0, "2024-11-06T03:10:00Z", 5, 4)])
    assert [r.outcome for r in results] == ["applied", "applied", "applied", "duplicate"]
    assert [(a.type, a.race_id, a.details["leader"]) for a in alerts] == [("lead_change", "senate", "trump")]
    assert {s.key for s in due(room) if s.kind == "state"} == {"e/president/MN/live", "e/senate/MN/live"}


def test_a_record_of_nothing_new_marks_nothing() -> None:
    room = room_with_race()
    apply_one(room, report("p1", 0, "2024-11-06T03:00:00Z", 10, 9))
    list(due(room))
    assert room.apply_record([report("p1", 0, "2024-11-06T03:00:00Z", 10, 9)])[1] == []
    assert list(due(room)) == []


def test_without_a_definition_nothing_is_published() -> None:
    room = CountingRoom()
    apply_one(room, report("p1", 0, "2024-11-06T03:00:00Z", 10, 5))
    assert list(due(room)) == []


def test_restored_room_republishes_the_same_snapshot_and_version() -> None:
    room = room_with_race()
    stored = {}
    for unit, seq, h in (("p1", 0, 10), ("p1", 1, 12), ("p2", 0, 7)):
        applied, _ = apply_one(room, report(unit, seq, "2024-11-06T03:00:00Z", h, 3))
        assert applied.unit is not None
        stored[unit] = unit_row(unit, applied.unit)
    before = [s.value for s in due(room) if s.kind == "state"]
    again = room_with_race()
    for row in stored.values():
        again.restore(LIVE, *unit_from_row(row))
    after = [s.value for s in due(again) if s.kind == "state"]
    assert after == before


def test_an_expected_vote_revision_marks_its_race_and_raises_an_alert() -> None:
    room = room_with_race()
    apply_one(room, report("p1", 0, "2024-11-06T03:00:00Z", 10, 5))
    list(due(room))
    estimate = parse_expected_vote({"schema": "expected-vote/1", "election_id": "e", "race_id": "president",
                                    "state": "MN", "expected_votes": 60, "seq": 1, "issued_at": "2024-11-06T03:01:00Z"})
    taken, old = room.book.put_expected(estimate)
    assert (taken, old) == (True, None)
    alerts = room.expected_changed(old, estimate)
    assert "expected_vote_revised" in {a.type for a in alerts}
    snaps = list(due(room))
    assert snaps[0].value["expected_votes"] == 60
    assert snaps[0].value["pct_expected_counted"] == 25.0
    assert room.book.put_expected(estimate) == (False, estimate)  # the same seq again: dropped


def test_races_polls_closed_follows_source_time() -> None:
    room = room_with_race()
    apply_one(room, report("p1", 0, "2024-11-06T01:00:00Z", 1, 1))
    assert room.races_polls_closed() == 0
    apply_one(room, report("p1", 1, "2024-11-06T02:30:00Z", 2, 1))
    assert room.races_polls_closed() == 1


def test_forgetting_tallies_also_forgets_what_was_due_from_them() -> None:
    """After a rebalance moved a race away, its pending snapshot must not be built from nothing."""
    room = room_with_race()
    apply_one(room, report("p1", 0, "2024-11-06T03:00:00Z", 10, 5))
    room.forget_tallies()
    assert list(due(room)) == []
    assert room.book.definitions  # the race book is kept


def test_a_county_is_held_until_it_reaches_what_an_earlier_owner_published() -> None:
    """The zombie scenario's regression: an earlier owner's last county snapshot can be newer
    than its last state snapshot, so the county needs a floor of its own."""
    room = room_with_race()
    apply_one(room, report("p1", 0, "2024-11-06T03:00:00Z", 10, 5))
    apply_one(room, report("p2", 0, "2024-11-06T03:00:00Z", 1, 1, county="27001"))
    # An earlier owner published 27053 at version 3 (p1 at seq 2: 3 of seq_sum) with 20 votes.
    floors = {"e/president/MN/27053/live": (3, 20)}
    room.county_floor = floors.get
    snaps = list(due(room))
    assert [s.key for s in snaps if s.kind == "county"] == ["e/president/MN/27001/live"]  # 27053 held
    apply_one(room, report("p1", 1, "2024-11-06T03:01:00Z", 12, 6))  # version 2: still short
    assert [s.key for s in due(room) if s.kind == "county"] == []
    apply_one(room, report("p1", 2, "2024-11-06T03:02:00Z", 14, 6))  # version 3, 20 votes: the same
    county = [s for s in due(room) if s.kind == "county"]
    assert [(s.key, s.value["version"], s.value["total_votes"]) for s in county] == [
        ("e/president/MN/27053/live", 3, 20)]
