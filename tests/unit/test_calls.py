"""Race calls in the counting room: held per race, refused when the book does not know them,
alerted once with ids that replay the same, never released before polls close; runoffs and
vote-for-N races in the snapshots."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from streams.contract import RaceCall, TallyKey, race_call_value
from streams.contract.calls import parse_race_call
from streams.contract.messages import parse_expected_vote, parse_precinct_report, parse_race_definition
from streams.counting.room import CountingRoom, Snapshot
from streams.errors import InvalidRecord

RACE = {"schema": "race-definition/1", "election_id": "e", "race_id": "senate", "state": "GA",
        "office": "U.S. Senate", "precincts_total": 3, "polls_close": "2024-11-06T00:00:00Z", "certified": False,
        "candidates": [{"candidate_id": "ossoff", "name": "Jon Ossoff", "party": "DEM", "incumbent": True},
                       {"candidate_id": "perdue", "name": "David Perdue", "party": "REP"},
                       {"candidate_id": "hazel", "name": "Shane Hazel", "party": "LIB"}]}
LIVE = TallyKey("e", "senate", "GA", "live")
AFTER_CLOSE = "2024-11-06T01:00:00Z"


def room_with(**rules: Any) -> CountingRoom:
    room = CountingRoom()
    room.book.put_definition(parse_race_definition({**RACE, **rules}))
    return room


def report(unit: str, seq: int, votes: dict[str, int], at: str = AFTER_CLOSE, complete: bool = True) -> Any:
    return parse_precinct_report({
        "schema": "precinct-result/1", "election_id": "e", "race_id": "senate", "state": "GA",
        "county_fips": "13121", "precinct_id": unit, "seq": seq, "reported_at": at, "votes": votes,
        "complete": complete})


def apply(room: CountingRoom, unit: str, seq: int, votes: dict[str, int], at: str = AFTER_CLOSE,
          complete: bool = True) -> list[Any]:
    r = report(unit, seq, votes, at, complete)
    return room.apply_record([r], r.reported_ms)[1]


def call(status: str, winners: list[str], seq: int, by: str = "AP", at: str = "2024-11-06T02:00:00Z",
         revision: int = 0) -> RaceCall:
    value = race_call_value("e/senate/GA", "live", status, winners, by, at, seq)  # type: ignore[arg-type]
    return dataclasses.replace(parse_race_call(value), revision=revision)


def said(room: CountingRoom, value: RaceCall) -> list[Any]:
    """Take a call as the race's owner does: what its alerts say now."""
    room.take_call(value)
    return room.owed_call_alerts(value.tally_key)


def state(room: CountingRoom) -> dict[str, Any]:
    snaps: list[Snapshot] = list(room.due_state_snapshots())
    assert [s.key for s in snaps] == ["e/senate/GA/live"]
    return snaps[0].value


def test_a_call_reaches_the_snapshot_and_raises_its_version() -> None:
    room = room_with()
    apply(room, "p1", 0, {"ossoff": 60, "perdue": 40})
    before = state(room)
    assert before["call"] is None
    alerts = said(room, call("called", ["ossoff"], 1, revision=7))
    assert [(a.type, a.severity) for a in alerts] == [("race_called", "info")]
    assert alerts[0].message == "AP called GA senate (live) for Ossoff."
    after = state(room)  # the call marked its race: due again
    assert after["call"] == {"status": "called", "winners": ["ossoff"], "by": "AP", "at": "2024-11-06T02:00:00Z"}
    assert after["version"] == before["version"] + 7
    assert after["candidates"][0] == {"candidate_id": "ossoff", "name": "Jon Ossoff", "party": "DEM",
                                      "votes": 60, "pct": 60.0, "incumbent": True, "projected_pct": None,
                                      "projected_pct_range": None}


def test_a_retraction_is_critical_and_a_changed_call_a_warning() -> None:
    room = room_with()
    apply(room, "p1", 0, {"ossoff": 60, "perdue": 40})
    said(room, call("called", ["ossoff"], 1))
    [retracted] = said(room, call("retracted", [], 2, by="Votewire Desk"))
    assert (retracted.type, retracted.severity) == ("call_retracted", "critical")
    assert retracted.message == ("Votewire Desk retracted the call of GA senate (live) (for Ossoff): no winner is "
                                 "declared now (retracted).")
    assert state(room)["call"]["status"] == "retracted"
    [called] = said(room, call("called", ["perdue"], 3))
    assert called.type == "race_called"  # in force again after the retraction
    [changed] = said(room, call("runoff", ["perdue", "ossoff"], 4))
    assert (changed.type, changed.severity) == ("call_changed", "warning")
    assert changed.details["previous_winners"] == ["perdue"]
    assert said(room, call("too_early", [], 5)) != []  # a call in force withdrawn: retracted too


def test_a_stale_or_repeated_call_changes_nothing_and_ids_replay_the_same() -> None:
    room = room_with()
    apply(room, "p1", 0, {"ossoff": 60, "perdue": 40})
    first = said(room, call("called", ["ossoff"], 5))
    assert said(room, call("retracted", [], 4)) == []  # a lower seq: stale
    assert said(room, call("called", ["ossoff"], 5)) == []  # a repeat
    assert room.calls.calls[LIVE].status == "called"
    again = room_with()
    apply(again, "p1", 0, {"ossoff": 60, "perdue": 40})
    assert [a.alert_id for a in said(again, call("called", ["ossoff"], 5))] == [a.alert_id for a in first]


@pytest.mark.parametrize(
    ("value", "kind"),
    [(call("called", ["warnock"], 1), "unknown_candidate"),
     (call("called", ["ossoff", "perdue"], 1), "bad_call"),  # two winners of one seat
     (dataclasses.replace(call("called", ["ossoff"], 1), race_id="house-005"), "unknown_race")],
)
def test_the_book_refuses_a_call_it_cannot_place(value: RaceCall, kind: str) -> None:
    room = room_with()
    with pytest.raises(InvalidRecord) as refused:
        room.take_call(value)
    assert refused.value.kind == kind
    assert room.calls.calls == {}


def test_a_call_before_polls_close_is_held_and_published_after() -> None:
    room = room_with()
    assert apply(room, "p1", 0, {"ossoff": 60, "perdue": 40}, at="2024-11-05T23:30:00Z") == []
    assert said(room, call("called", ["ossoff"], 1, at="2024-11-05T23:40:00Z")) == []  # held
    assert list(room.due_state_snapshots()) == []  # a call never lifts the embargo
    alerts = apply(room, "p2", 0, {"ossoff": 5, "perdue": 5})
    assert [a.type for a in alerts] == ["race_called"]
    assert state(room)["call"]["winners"] == ["ossoff"]
    assert apply(room, "p3", 0, {"ossoff": 1}) == []  # released once


def test_a_vote_for_two_race_leads_with_two_and_the_last_seat_decides_reach_and_needs() -> None:
    room = room_with(seats=2)
    room.book.put_expected(parse_expected_vote({
        "schema": "expected-vote/1", "election_id": "e", "race_id": "senate", "state": "GA",
        "expected_votes": 1_000, "seq": 0, "issued_at": AFTER_CLOSE}))
    apply(room, "p1", 0, {"ossoff": 400, "perdue": 300, "hazel": 100})
    snap = state(room)
    assert (snap["seats"], snap["leaders"], snap["seat_margin_votes"]) == (2, ["ossoff", "perdue"], 200)
    assert snap["trailer"] == "hazel"  # the first one out, who needs to catch up
    assert snap["out_of_reach"] is False  # 200 votes still out: hazel could draw level
    assert snap["needs_readout"] == "Hazel needs 100.0% of the remaining 200 expected votes"
    assert snap["margin_votes"] == 100  # first place's lead, as ever
    apply(room, "p2", 0, {"perdue": 150})
    assert state(room)["out_of_reach"] is True  # 300 ahead for the last seat, 50 out


def expect(room: CountingRoom, votes: int) -> None:
    room.book.put_expected(parse_expected_vote({
        "schema": "expected-vote/1", "election_id": "e", "race_id": "senate", "state": "GA",
        "expected_votes": votes, "seq": 0, "issued_at": AFTER_CLOSE}))


def test_a_vote_for_two_races_alerts_watch_the_last_seat_not_first_place() -> None:
    room = room_with(seats=2)
    expect(room, 1_000)
    apply(room, "p1", 0, {"ossoff": 400, "perdue": 300, "hazel": 100})
    alerts = apply(room, "p2", 0, {"perdue": 150})
    assert "lead_change" not in [a.type for a in alerts], "Perdue passing Ossoff changes no seat: both hold one"
    [reach] = [a for a in alerts if a.type == "out_of_reach"]  # Ossoff 300 ahead for the last seat, 50 out
    assert (reach.details["leader"], reach.details["margin_votes"]) == ("ossoff", 300)


def test_a_vote_for_two_race_says_who_took_the_last_seat() -> None:
    room = room_with(seats=2)
    expect(room, 10_000)
    apply(room, "p1", 0, {"ossoff": 400, "perdue": 300, "hazel": 250})
    [change] = [a for a in apply(room, "p2", 0, {"hazel": 100}) if a.type == "lead_change"]
    assert (change.details["leader"], change.details["previous_leader"]) == ("hazel", "perdue")
    assert change.details["margin_votes"] == 50  # Hazel's lead for the last seat
    assert change.message.startswith("Hazel overtook Perdue for the last of 2 seats in GA senate (live)")


def test_a_runoff_race_says_so_once_counting_is_done_and_alerts_when_it_is_likely() -> None:
    room = room_with(win_threshold=50)
    room.book.put_expected(parse_expected_vote({
        "schema": "expected-vote/1", "election_id": "e", "race_id": "senate", "state": "GA",
        "expected_votes": 1_000, "seq": 0, "issued_at": AFTER_CLOSE}))
    first = apply(room, "p1", 0, {"ossoff": 300, "perdue": 250, "hazel": 50})
    assert "runoff_likely" not in [a.type for a in first]  # 300 + 400 still out could pass 50%
    snap = state(room)
    assert snap["win_threshold"] == 50.0
    assert snap["tabulation_status"] == "counting"
    assert not snap["readout"].endswith("headed to a runoff")
    [likely] = [a for a in apply(room, "p2", 0, {"ossoff": 100, "perdue": 200, "hazel": 80})
                if a.type == "runoff_likely"]
    # Perdue leads with 450 of 980, 20 out: even all of them leave him at 470 of 1,000
    assert (likely.type, likely.severity) == ("runoff_likely", "warning")
    assert (likely.details["leader"], likely.details["best_pct"]) == ("perdue", 47.0)
    apply(room, "p3", 0, {"hazel": 20})  # the third precinct: counting is done
    done = state(room)
    assert done["tabulation_status"] == "counted"
    assert done["readout"].endswith(" · headed to a runoff")


def expect_1000(room: CountingRoom) -> None:
    room.book.put_expected(parse_expected_vote({
        "schema": "expected-vote/1", "election_id": "e", "race_id": "senate", "state": "GA",
        "expected_votes": 1_000, "seq": 0, "issued_at": AFTER_CLOSE}))


def test_a_runoff_count_read_before_its_definition_alerts_when_the_definition_comes() -> None:
    """A live night reads the race book beside the reports: a race's count may come first, under
    embargo until its definition is read (the calls night on CI: no runoff_likely at all)."""
    room = CountingRoom()
    expect_1000(room)
    assert apply(room, "p1", 0, {"ossoff": 400, "perdue": 450, "hazel": 130}) == []  # no definition yet
    definition = dataclasses.replace(parse_race_definition({**RACE, "win_threshold": 50}), revision=7)
    room.book.put_definition(definition)
    [likely] = room.definition_alerts(None, definition)
    assert (likely.type, likely.details["leader"], likely.details["best_pct"]) == ("runoff_likely", "perdue", 47.0)
    assert likely.at == AFTER_CLOSE  # the count's source time
    assert room.definition_alerts(None, definition)[0].alert_id == likely.alert_id  # replays the same
    certified = dataclasses.replace(definition, certified=True, revision=8)
    assert room.definition_alerts(definition, certified) == [], "already likely under the old definition"
    assert apply(room, "p2", 0, {"hazel": 20}) == []  # nor again with the next report
    plurality = parse_race_definition(RACE)
    assert room.definition_alerts(None, plurality) == [], "no threshold: a plurality wins"


def test_a_runoff_that_became_likely_under_embargo_is_alerted_when_the_count_is_released() -> None:
    room = room_with(win_threshold=50)
    expect_1000(room)
    early = apply(room, "p1", 0, {"ossoff": 400, "perdue": 450, "hazel": 130}, at="2024-11-05T23:00:00Z")
    assert early == [], "nothing before polls close"
    [likely] = [a.type for a in apply(room, "p2", 0, {"hazel": 5})]
    assert likely == "runoff_likely"
    assert apply(room, "p3", 0, {"hazel": 5}) == []  # once


def test_a_definition_under_embargo_alerts_nothing() -> None:
    room = CountingRoom()
    expect_1000(room)
    apply(room, "p1", 0, {"ossoff": 400, "perdue": 450, "hazel": 130}, at="2024-11-05T23:00:00Z")
    assert room.definition_alerts(None, parse_race_definition({**RACE, "win_threshold": 50})) == []


def test_tabulation_status_from_the_definition_or_the_count() -> None:
    room = room_with()
    apply(room, "p1", 0, {}, complete=False)
    assert state(room)["tabulation_status"] == "awaiting_votes"
    paused = room_with(tabulation_status="paused")
    apply(paused, "p1", 0, {"ossoff": 1})
    assert state(paused)["tabulation_status"] == "paused"
    certified = room_with(certified=True, tabulation_status="counting")
    apply(certified, "p1", 0, {"ossoff": 1})
    assert state(certified)["tabulation_status"] == "certified"


def test_every_precinct_in_is_not_counted_while_the_estimate_says_votes_are_out() -> None:
    """The simulator's late mail (and real canvasses) add votes to precincts already complete."""
    room = room_with(precincts_total=1)
    room.book.put_expected(parse_expected_vote({
        "schema": "expected-vote/1", "election_id": "e", "race_id": "senate", "state": "GA",
        "expected_votes": 200, "seq": 0, "issued_at": AFTER_CLOSE}))
    apply(room, "p1", 0, {"ossoff": 60, "perdue": 40})
    assert state(room)["tabulation_status"] == "counting"
    apply(room, "p1", 1, {"ossoff": 110, "perdue": 90})
    assert state(room)["tabulation_status"] == "counted"


def test_the_book_reader_takes_a_fetchs_calls_after_its_definitions() -> None:
    from aiokafka import TopicPartition

    from streams.worker.book_reader import calls_last

    calls, definitions = TopicPartition("p.race-calls", 0), TopicPartition("p.race-definitions", 1)
    batch = {calls: ["call-1", "call-2"], definitions: ["definition-1", "definition-2"]}
    assert [m for _, m in calls_last(batch)] == ["definition-1", "definition-2", "call-1", "call-2"]
