"""The worker's derived state without Kafka: coalesced publishing, embargo, restore, polls closed."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from streams.contract import Alert, PrecinctReport, TallyKey
from streams.contract.messages import parse_expected_vote, parse_precinct_report, parse_race_definition
from streams.counting import room as room_module
from streams.counting.holds import Floor, reached
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


def report(unit: str, seq: int, at: str, harris: int, trump: int, county: str = "27053") -> PrecinctReport:
    return parse_precinct_report({
        "schema": "precinct-result/1", "election_id": "e", "race_id": "president", "state": "MN",
        "county_fips": county, "precinct_id": unit, "seq": seq, "reported_at": at,
        "votes": {"harris": harris, "trump": trump}, "complete": True})


def take(room: CountingRoom, r: PrecinctReport, kafka_ms: int | None = None) -> tuple[Applied, list[Alert]]:
    """Apply a record of `r` alone as the worker does, Kafka timing it as `r` says (unless told otherwise)."""
    [applied], alerts = room.apply_record([r], r.reported_ms if kafka_ms is None else kafka_ms)
    return applied, alerts


def room_with_race() -> CountingRoom:
    room = CountingRoom()
    room.book.put_definition(parse_race_definition(RACE))
    return room


def test_many_reports_make_one_snapshot_per_key_per_round() -> None:
    room = room_with_race()
    for seq in range(5):
        take(room, report("p1", seq, "2024-11-06T03:00:00Z", 10 + seq, 5))
    take(room, report("p2", 0, "2024-11-06T03:05:00Z", 1, 2, county="27001"))
    snaps = list(due(room))
    assert [(s.kind, s.key) for s in snaps] == [
        ("state", "e/president/MN/live"), ("county", "e/president/MN/27001/live"),
        ("county", "e/president/MN/27053/live")]
    assert snaps[0].value["total_votes"] == 14 + 5 + 1 + 2
    assert list(due(room)) == []  # nothing new: nothing to send


def test_nothing_is_released_before_polls_close_and_the_count_is_kept() -> None:
    room = room_with_race()
    take(room, report("p1", 0, "2024-11-06T01:59:59Z", 10, 5))
    assert list(due(room)) == []
    assert room.embargoed == {LIVE}
    take(room, report("p2", 0, "2024-11-06T02:00:00Z", 1, 1, county="27001"))
    snaps = list(due(room))
    assert snaps[0].value["total_votes"] == 17  # the early count is tallied, just not released early
    # Counties are released with their race: 27053's only report came before polls close, and
    # its votes are in the state's figures now, so its own snapshot goes out with them.
    assert [s.key for s in snaps if s.kind == "county"] == ["e/president/MN/27001/live", "e/president/MN/27053/live"]
    assert room.embargoed == set()


def test_no_alert_is_raised_on_embargoed_counts_but_after_polls_close() -> None:
    """A lead change before polls close would name the leader and the shares: an embargo leak."""
    room = room_with_race()
    room.book.put_expected(parse_expected_vote({
        "schema": "expected-vote/1", "election_id": "e", "race_id": "president", "state": "MN",
        "expected_votes": 40, "seq": 1, "issued_at": "2024-11-06T01:00:00Z"}))
    assert take(room, report("p1", 0, "2024-11-06T01:30:00Z", 10, 5))[1] == []
    assert take(room, report("p1", 1, "2024-11-06T01:59:59Z", 5, 30))[1] == []  # lead change, decrease
    revised = room.expected_changed(room.book.expected.get(LIVE.race), parse_expected_vote({
        "schema": "expected-vote/1", "election_id": "e", "race_id": "president", "state": "MN",
        "expected_votes": 45, "seq": 2, "issued_at": "2024-11-06T01:59:59Z"}))
    assert [a.type for a in revised] == ["expected_vote_revised"]  # an estimate carries no count
    _, alerts = take(room, report("p1", 2, "2024-11-06T02:00:00Z", 40, 5))
    assert "lead_change" in [a.type for a in alerts]


def test_a_race_embargoed_whatever_its_record_brings_works_out_no_alert(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kafka timed the record before polls close: every alert would be held back, so neither the
    alerts nor the figures they compare are worked out. The next record, past polls close, still
    compares with the figures before it."""
    room = room_with_race()
    room.book.put_expected(parse_expected_vote({
        "schema": "expected-vote/1", "election_id": "e", "race_id": "president", "state": "MN",
        "expected_votes": 40, "seq": 1, "issued_at": "2024-11-06T01:00:00Z"}))
    taken: list[object] = []
    take_standing = room_module.standing
    monkeypatch.setattr(room_module, "standing", lambda *args: taken.append(args) or take_standing(*args))
    # The unit's clock says polls have closed; Kafka's does not (design rule 7).
    assert take(room, report("p1", 0, "2024-11-06T03:00:00Z", 10, 5), kafka_ms=CLOSE_MS - 1)[1] == []
    assert take(room, report("p1", 1, "2024-11-06T03:01:00Z", 12, 5), kafka_ms=CLOSE_MS - 1)[1] == []
    assert taken == []
    _, alerts = take(room, report("p1", 2, "2024-11-06T03:02:00Z", 5, 30), kafka_ms=CLOSE_MS + 1)
    assert "lead_change" in [a.type for a in alerts]
    # 17 of the 40 expected votes before it (25% passed then), 35 after: 50% and 75% are new.
    assert [a.details["threshold"] for a in alerts if a.type == "counted_milestone"] == [50, 75]
    assert taken, "past the embargo the race's figures are compared again"


def senate(unit: str, seq: int, at: str, harris: int, trump: int) -> Any:
    return dataclasses.replace(report(unit, seq, at, harris, trump), race_id="senate")


def test_a_poll_is_one_observation_per_race_and_marks_each_race_it_changed() -> None:
    room = room_with_race()
    room.book.put_definition(parse_race_definition({**RACE, "race_id": "senate"}))
    room.apply_record([report("p1", 0, "2024-11-06T03:00:00Z", 10, 9), senate("p1", 0, "2024-11-06T03:00:00Z", 5, 4)],
                      CLOSE_MS + 3_600_000)
    list(due(room))
    # President: Trump ahead after p2, Harris again after p3; senate: Trump takes the lead.
    results, alerts = room.apply_record([
        report("p2", 0, "2024-11-06T03:10:00Z", 0, 5), report("p3", 0, "2024-11-06T03:10:00Z", 9, 0),
        senate("p2", 0, "2024-11-06T03:10:00Z", 0, 3), senate("p1", 0, "2024-11-06T03:10:00Z", 5, 4)],
        CLOSE_MS + 4_200_000)
    assert [r.outcome for r in results] == ["applied", "applied", "applied", "duplicate"]
    assert [(a.type, a.race_id, a.details["leader"]) for a in alerts] == [("lead_change", "senate", "trump")]
    assert {s.key for s in due(room) if s.kind == "state"} == {"e/president/MN/live", "e/senate/MN/live"}


def test_a_record_of_nothing_new_marks_nothing() -> None:
    room = room_with_race()
    take(room, report("p1", 0, "2024-11-06T03:00:00Z", 10, 9))
    list(due(room))
    assert room.apply_record([report("p1", 0, "2024-11-06T03:00:00Z", 10, 9)], CLOSE_MS + 3_600_000)[1] == []
    assert list(due(room)) == []


def test_without_a_definition_nothing_is_published() -> None:
    room = CountingRoom()
    take(room, report("p1", 0, "2024-11-06T03:00:00Z", 10, 5))
    assert list(due(room)) == []


def test_restored_room_republishes_the_same_snapshot_and_version() -> None:
    room = room_with_race()
    stored = {}
    for unit, seq, h in (("p1", 0, 10), ("p1", 1, 12), ("p2", 0, 7)):
        applied, _ = take(room, report(unit, seq, "2024-11-06T03:00:00Z", h, 3))
        assert applied.unit is not None
        stored[unit] = unit_row(unit, applied.unit)
    before = [s.value for s in due(room) if s.kind == "state"]
    again = room_with_race()
    for row in stored.values():
        again.restore(LIVE, *unit_from_row(row))
    again.restore_kafka_time(LIVE, room.tallies[LIVE].kafka_ms)  # a checkpoint holds it beside the units
    after = [s.value for s in due(again) if s.kind == "state"]
    assert after == before


def test_an_expected_vote_revision_marks_its_race_and_raises_an_alert() -> None:
    room = room_with_race()
    take(room, report("p1", 0, "2024-11-06T03:00:00Z", 10, 5))
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
    take(room, report("p1", 0, "2024-11-06T01:00:00Z", 1, 1))
    assert room.races_polls_closed() == 0
    take(room, report("p1", 1, "2024-11-06T02:30:00Z", 2, 1))
    assert room.races_polls_closed() == 1


def test_forgetting_tallies_also_forgets_what_was_due_from_them() -> None:
    """After a rebalance moved a race away, its pending snapshot must not be built from nothing."""
    room = room_with_race()
    take(room, report("p1", 0, "2024-11-06T03:00:00Z", 10, 5))
    room.forget_tallies()
    assert list(due(room)) == []
    assert room.book.definitions  # the race book is kept


def test_a_county_is_held_until_it_reaches_what_an_earlier_owner_published() -> None:
    """The zombie scenario's regression: an earlier owner's last county snapshot can be newer
    than its last state snapshot, so the county needs a floor of its own."""
    room = room_with_race()
    take(room, report("p1", 0, "2024-11-06T03:00:00Z", 10, 5))
    take(room, report("p2", 0, "2024-11-06T03:00:00Z", 1, 1, county="27001"))
    # An earlier owner published 27053 at version 3 (p1 at seq 2: 3 of seq_sum) with 20 votes.
    floors = {"e/president/MN/27053/live": Floor(3, 20, 3)}
    room.county_floor = floors.get
    snaps = list(due(room))
    assert [s.key for s in snaps if s.kind == "county"] == ["e/president/MN/27001/live"]  # 27053 held
    take(room, report("p1", 1, "2024-11-06T03:01:00Z", 12, 6))  # version 2: still short
    assert [s.key for s in due(room) if s.kind == "county"] == []
    take(room, report("p1", 2, "2024-11-06T03:02:00Z", 14, 6))  # version 3, 20 votes: the same
    county = [s for s in due(room) if s.kind == "county"]
    assert [(s.key, s.value["version"], s.value["total_votes"]) for s in county] == [
        ("e/president/MN/27053/live", 3, 20)]


def county_snapshots(room: CountingRoom) -> dict[str, dict[str, Any]]:
    return {s.key: s.value for s in due(room) if s.kind == "county"}


def test_a_county_a_unit_moves_out_of_publishes_its_correction_at_a_higher_version() -> None:
    """Issue 18 item 4: the old county's seq_sum went down with the unit, so its correction
    carried a lower version than the snapshot it corrects, and the gateway kept the moved votes."""
    room = room_with_race()
    take(room, report("p1", 5, "2024-11-06T03:00:00Z", 10, 5, county="27053"))
    take(room, report("p3", 0, "2024-11-06T03:00:00Z", 2, 2, county="27053"))
    take(room, report("p2", 0, "2024-11-06T03:00:00Z", 1, 1, county="27001"))
    first = county_snapshots(room)
    take(room, report("p1", 6, "2024-11-06T03:10:00Z", 10, 5, county="27001"))  # the source moved p1
    again = county_snapshots(room)
    old, new = "e/president/MN/27053/live", "e/president/MN/27001/live"
    assert again[old]["total_votes"] == 4, "the old county no longer counts the moved unit"
    assert again[old]["version"] > first[old]["version"], "a lower version is ignored by every reader"
    assert again[new]["total_votes"] == 17
    assert again[new]["version"] > first[new]["version"]


def test_a_county_whose_only_unit_moved_away_is_published_empty() -> None:
    """The county's last snapshot must not keep the moved votes: its correction (no units, no
    votes) goes out, with a time, once its race is released."""
    room = room_with_race()
    take(room, report("p1", 0, "2024-11-06T03:00:00Z", 10, 5, county="27053"))
    first = county_snapshots(room)
    take(room, report("p1", 1, "2024-11-06T03:10:00Z", 10, 5, county="27001"))
    again = county_snapshots(room)
    old = "e/president/MN/27053/live"
    assert old in again, "the correction of the county the unit left was never published"
    assert (again[old]["total_votes"], again[old]["candidates"][0]["votes"]) == (0, 0)
    assert again[old]["version"] > first[old]["version"]
    assert again[old]["as_of"] is not None, "as_of is a time in the contract"


def test_a_county_is_not_released_by_a_re_emitted_definition_short_of_the_published_count() -> None:
    """Issue 18 item 5 for county snapshots: a higher definition revision is not a count."""
    room = room_with_race()
    take(room, report("p1", 0, "2024-11-06T03:00:00Z", 10, 5))  # counted to the commit: seq_sum 1
    # An earlier owner published 27053 with p1 at seq 2 (seq_sum 3), 20 votes, at version 3.
    room.county_floor = {"e/president/MN/27053/live": Floor(3, 20, 3)}.get
    room.book.put_definition(dataclasses.replace(parse_race_definition(RACE), revision=50))
    room.definition_changed(room.book.definitions[LIVE.race])
    assert [s.key for s in due(room) if s.kind == "county"] == []
    take(room, report("p1", 2, "2024-11-06T03:02:00Z", 14, 6))
    [county] = [s for s in due(room) if s.kind == "county"]
    assert (county.value["total_votes"], county.value["version"]) == (20, 3 + 50)


CLOSE_MS = 1_730_858_400_000  # RACE's polls_close, 2024-11-06T02:00:00Z


def test_one_unit_with_a_skewed_clock_does_not_lift_the_embargo() -> None:
    """Issue 18 item 7 (design rule 7): its report says 03:00, after polls close, but Kafka
    took the record at 01:30 (a clock set wrong, UTC written as -05:00, a hostile feed)."""
    room = room_with_race()
    room.book.put_expected(parse_expected_vote({
        "schema": "expected-vote/1", "election_id": "e", "race_id": "president", "state": "MN",
        "expected_votes": 40, "seq": 1, "issued_at": "2024-11-06T01:00:00Z"}))
    _, alerts = take(room, report("p1", 0, "2024-11-06T03:00:00Z", 10, 5), kafka_ms=CLOSE_MS - 1_800_000)
    assert alerts == [], "a milestone names the shares: an embargo leak"
    assert list(due(room)) == []
    assert room.embargoed == {LIVE}
    _, alerts = take(room, report("p2", 0, "2024-11-06T02:01:00Z", 1, 20, county="27001"), kafka_ms=CLOSE_MS + 60_000)
    assert "lead_change" in [a.type for a in alerts], "both clocks agree: released, alerts too"
    snaps = list(due(room))
    assert [s.value["total_votes"] for s in snaps if s.kind == "state"] == [36]


def test_kafka_time_after_polls_close_does_not_release_reports_from_before() -> None:
    """The other way round: a feed replayed late, or delayed, is not released early either."""
    room = room_with_race()
    take(room, report("p1", 0, "2024-11-06T01:59:00Z", 10, 5), kafka_ms=CLOSE_MS + 3_600_000)
    assert list(due(room)) == []


def test_test_mode_is_released_by_its_reports_time_alone() -> None:
    """A rehearsal's records are sent days before the night their times stand for."""
    room = room_with_race()
    rehearsal = parse_precinct_report({
        "schema": "precinct-result/1", "election_id": "e", "race_id": "president", "state": "MN", "mode": "test",
        "county_fips": "27053", "precinct_id": "t1", "seq": 0, "reported_at": "2024-11-06T03:00:00Z",
        "votes": {"harris": 1}, "complete": True})
    room.apply_record([rehearsal], CLOSE_MS - 86_400_000)
    assert [s.key for s in due(room) if s.kind == "state"] == ["e/president/MN/test"]


def test_a_duplicate_that_kafka_times_after_polls_close_releases_the_race() -> None:
    """The record that tells that polls have closed may carry nothing new: the race is released
    at once, not at its next applied report."""
    room = room_with_race()
    take(room, report("p1", 0, "2024-11-06T03:00:00Z", 10, 5), kafka_ms=CLOSE_MS - 1)
    assert list(due(room)) == []
    applied, _ = take(room, report("p1", 0, "2024-11-06T03:00:00Z", 10, 5), kafka_ms=CLOSE_MS)  # sent again
    assert applied.outcome == "duplicate"
    assert [s.value["total_votes"] for s in due(room) if s.kind == "state"] == [15]


def test_a_poll_that_kafka_times_after_polls_close_releases_every_race_it_names() -> None:
    """The Kafka time is the record's: it counts for each race of a poll, those whose reports in
    it are all duplicates too."""
    room = room_with_race()
    room.book.put_definition(parse_race_definition({**RACE, "race_id": "senate"}))
    first = [report("p1", 0, "2024-11-06T03:00:00Z", 10, 5), senate("p1", 0, "2024-11-06T03:00:00Z", 6, 4)]
    room.apply_record(first, CLOSE_MS - 1)
    assert list(due(room)) == []
    results, _ = room.apply_record([*first, senate("p2", 0, "2024-11-06T03:00:00Z", 1, 1)], CLOSE_MS)
    assert [r.outcome for r in results] == ["duplicate", "duplicate", "applied"]
    assert sorted(s.value["total_votes"] for s in due(room) if s.kind == "state") == [12, 15]


def test_a_rebuild_decides_the_embargo_as_the_live_worker_did() -> None:
    """The rebuild reads the same records with the same Kafka times: the same decision."""
    records = [(report("p1", 0, "2024-11-06T03:00:00Z", 10, 5), CLOSE_MS - 60_000),
               (report("p1", 0, "2024-11-06T03:00:00Z", 10, 5), CLOSE_MS + 60_000),
               (report("p2", 0, "2024-11-06T01:00:00Z", 1, 1), CLOSE_MS - 3_600_000)]
    live, rebuilt = room_with_race(), room_with_race()
    for r, kafka_ms in records:
        live.apply_record([r], kafka_ms)
        rebuilt.replay_report(r, kafka_ms)
    assert live.tallies[LIVE].embargo_ms == rebuilt.tallies[LIVE].embargo_ms == CLOSE_MS + 60_000
    assert [s.value for s in due(live)] == [s.value for s in due(rebuilt)]


def test_a_floor_published_before_snapshots_said_what_they_counted_is_reached_by_version() -> None:
    """A snapshot of an older votewire has no count header: its version is all there is."""
    old = Floor(10, 30, None)
    assert reached(11, 2, 25, old)
    assert reached(10, 2, 30, old)
    assert not reached(10, 9, 25, old)
    assert not reached(9, 20, 30, old)
    assert not reached(11, 9, 30, Floor(10, 30, 10)), "with the count known, a higher version is not enough"
    assert reached(11, 10, 30, Floor(10, 30, 10))


def test_a_race_book_change_marks_that_races_tallies_and_no_others_nor_forgotten_ones() -> None:
    room = CountingRoom()
    keys = [TallyKey("e", race, state, mode) for race in ("president", "senate") for state in ("MN", "WI")
            for mode in ("live", "test")]
    for key in keys:
        room.tally_for(key)
    senate_mn = TallyKey("e", "senate", "MN", "live").race  # a race/state: the race book's key
    room.dirty.clear()
    room.estimate_changed(senate_mn)
    assert room.dirty == {TallyKey("e", "senate", "MN", "live"), TallyKey("e", "senate", "MN", "test")}
    president_wi = TallyKey("e", "president", "WI", "live").race
    assert [t.key for t in room.race_tallies(president_wi)] == [k for k in keys if k.race == president_wi]
    room.forget_tallies(lambda key: key.mode == "test")
    room.dirty.clear()
    room.baseline_changed(president_wi)
    assert room.dirty == {TallyKey("e", "president", "WI", "live")}
    assert room.race_tallies(TallyKey("e", "governor", "WI", "live").race) == []
    room.tally_for(TallyKey("e", "president", "WI", "test"))  # taken back: known again
    assert len(room.race_tallies(president_wi)) == 2


def test_a_room_made_with_tallies_knows_them_by_race() -> None:
    tally = CountingRoom().tally_for(LIVE)
    room = CountingRoom(tallies={LIVE: tally})
    room.definition_changed(parse_race_definition(RACE))
    assert room.dirty == {LIVE}
