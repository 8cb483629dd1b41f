"""The model of the vote still out in the worker's counting room: the race book's baselines, the
snapshot fields, the (est.) readout, the version, the holds, the alerts, the metrics.

The race worked by hand: a baseline of 25 precincts of 100 votes each (50 DEM, 50 REP). 20 have
fully reported 110 votes each (Harris 60, Trump 50): turnout 1.1 everywhere, Harris +4.5 points
on her party's share. The 5 still out are expected at 100 x 1.1 = 110 each, so the expected vote
is 25 x 110 = 2,750, with 2,200 counted (80%). Every unit moved alike, so every residual is 0 and
every interval is the point itself; Harris is projected at 60 / 110 = 54.5%.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any, NamedTuple

from jsonschema import Draft202012Validator
from prometheus_client import CollectorRegistry

from streams.contract import Alert, RaceCall, TallyKey
from streams.contract.calls import parse_race_call, race_call_value
from streams.contract.messages import parse_expected_vote, parse_precinct_report, parse_race_definition
from streams.counting.holds import Floor, Holds
from streams.counting.projection import RaceModels
from streams.counting.room import CountingRoom
from streams.metrics import worker_metrics
from streams.model.baselines import parse_baseline
from streams.settings import Settings
from streams.worker.book_reader import BookReader
from tests.unit.test_counting import RACE

LIVE = TallyKey("e", "president", "MN", "live")
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
REPORTED, OUT = [f"p{i:02}" for i in range(20)], [f"p{i:02}" for i in range(20, 25)]


def baseline(seq: int = 0, units: int = 25) -> dict[str, Any]:
    ids = [f"p{i:02}" for i in range(units)]
    return {"schema": "baseline/1", "election_id": "e", "race_id": "president", "state": "MN",
            "baseline_election_id": "2020-11-03", "seq": seq, "issued_at": "2024-11-01T00:00:00Z",
            "parties": ["DEM", "REP"], "units": {uid: [100, 50, 50] for uid in ids},
            "unit_counties": {uid: "27053" if uid in REPORTED else "27001" for uid in ids}}


def report(unit: str, seq: int = 0, harris: int = 60, trump: int = 50, complete: bool = True,
           at: str = "2024-11-06T03:00:00Z") -> Any:
    return parse_precinct_report({
        "schema": "precinct-result/1", "election_id": "e", "race_id": "president", "state": "MN",
        "county_fips": "27053" if unit in REPORTED else "27001", "precinct_id": unit, "seq": seq,
        "reported_at": at, "votes": {"harris": harris, "trump": trump}, "complete": complete})


def expected_vote(votes: int, seq: int) -> Any:
    return parse_expected_vote({"schema": "expected-vote/1", "election_id": "e", "race_id": "president",
                                "state": "MN", "expected_votes": votes, "seq": seq,
                                "issued_at": "2024-11-06T01:00:00Z"})


class Run(NamedTuple):
    key: TallyKey
    outcome: str
    units_used: int


class Watched(CountingRoom):
    """A counting room whose model runs and alerts are recorded, as the worker's metrics and outbox take them."""

    def __init__(self, with_baseline: bool = True, reported: int = 20) -> None:
        super().__init__()
        self.runs: list[Run] = []
        self.alerts: list[Alert] = []
        self.models = RaceModels(2.0, lambda key, outcome, _s, used: self.runs.append(Run(key, outcome, used)),
                                 self.alerts.extend)
        self.book.put_definition(parse_race_definition(RACE))
        if with_baseline:
            self.book.put_baseline(parse_baseline(baseline()))
        for unit in REPORTED[:reported]:
            self.apply_record([report(unit)], 1_730_862_000_000)

    def state(self) -> dict[str, Any]:
        [snap] = [s for s in self.due_state_snapshots() if s.kind == "state"]
        return snap.value


def test_without_a_published_expected_vote_the_count_is_of_the_models_estimate_and_says_so() -> None:
    snap = Watched().state()
    assert (snap["model_expected_votes"], snap["model_votes_remaining"]) == (2750, 550)
    assert snap["model_expected_range"] == {"80": [2750, 2750], "90": [2750, 2750], "95": [2750, 2750]}
    assert snap["model_votes_remaining_range"]["90"] == [550, 550]
    assert (snap["model_units_used"], snap["model_units_outstanding"], snap["model_units_unmatched"]) == (20, 5, 0)
    assert (snap["model_baseline_election_id"], snap["model_note"]) == ("2020-11-03", None)
    assert (snap["expected_votes"], snap["expected_vote_source"], snap["pct_expected_counted"]) == (None, "model", 80.0)
    assert snap["readout"] == "Harris 54.5% · Trump 45.5% · about 80% of expected vote counted (est.)"
    harris = snap["candidates"][0]
    assert (harris["candidate_id"], harris["projected_pct"], harris["projected_pct_range"]["95"]) == (
        "harris", 54.5, [54.5, 54.5])
    # The published figures stay the published ones: no estimate, nothing out, no needs line.
    assert (snap["votes_remaining"], snap["votes_outstanding"], snap["needs_readout"]) == (None, None, None)
    state_schema = json.loads((SCHEMAS / "state-result.schema.json").read_text(encoding="utf-8"))
    assert [e.message for e in Draft202012Validator(state_schema).iter_errors(snap)] == []


def test_a_published_expected_vote_always_wins() -> None:
    room = Watched()
    room.book.put_expected(expected_vote(3000, 1))
    snap = room.state()
    # 2,200 of the published 3,000 = 73.3%; the model's 2,750 is still there beside it
    assert (snap["expected_vote_source"], snap["pct_expected_counted"], snap["model_expected_votes"]) == (
        "published", 73.3, 2750)
    assert snap["readout"] == "Harris 54.5% · Trump 45.5% · 73% of expected vote counted"


def test_the_model_stands_on_nothing_it_cannot_and_says_why() -> None:
    few = Watched(reported=10).state()  # 10 of the 19 fully reported units a 95% interval needs
    assert (few["model_expected_votes"], few["model_units_used"], few["expected_vote_source"]) == (None, 10, None)
    assert few["model_note"] == "10 units with a baseline have fully reported; intervals at 95% need at least 19"
    assert few["readout"].endswith("% of precincts reporting")  # RACE's 3 precincts: 10 units count 333%
    none = Watched(with_baseline=False)
    snap = none.state()
    assert (snap["model_note"], snap["model_units_used"], snap["model_baseline_election_id"]) == (
        "no baseline for this race", None, None)
    assert none.runs == []  # no baseline: nothing to run, nothing to measure


def test_the_model_runs_once_per_state_of_the_tally_and_only_past_the_embargo() -> None:
    room = Watched()
    room.state()
    room.mark_all_dirty()  # a failed send: due again, unchanged
    room.state()
    assert room.runs == [Run(LIVE, "estimate", 20)]
    room.apply_record([report(OUT[0], complete=False, harris=10, trump=5)], 1_730_862_000_000)
    assert room.state()["total_votes"] == 2215
    assert len(room.runs) == 2
    early = Watched(reported=0)
    early.apply_record([report("p00", at="2024-11-06T01:00:00Z")], 1_730_854_800_000)  # polls close at 02:00
    assert list(early.due_state_snapshots()) == []
    assert early.runs == []  # under embargo: no snapshot, no model


def test_a_newer_baseline_replaces_the_old_one_and_raises_the_version() -> None:
    room = Watched()
    first = room.state()
    # seq + 1 over 20 units at seq 0, the definition's revision 0, the baseline's seq 0 + 1
    assert first["version"] == 20 + 0 + 1
    assert not room.book.put_baseline(parse_baseline(baseline(seq=0)))  # not newer: not taken
    assert room.book.put_baseline(parse_baseline(baseline(seq=4, units=24)))
    room.baseline_changed(LIVE.race)
    second = room.state()
    assert second["version"] == 20 + 4 + 1
    assert (second["model_expected_votes"], second["model_units_outstanding"]) == (2640, 4)  # 24 x 110


def test_the_vote_left_by_county_is_the_models_without_county_estimates() -> None:
    room = Watched()
    [county] = room.state()["counties_outstanding"]
    # the 5 units still out are all in 27001, nothing counted there: 5 x 110 expected
    assert county == {"county_fips": "27001", "votes_outstanding": 550, "expected_votes": 550, "total_votes": 0,
                      "pct_expected_counted": 0.0, "leader": None, "margin_votes": 0, "margin_pct": 0.0,
                      "expected_vote_source": "model"}
    room.book.put_expected(parse_expected_vote({
        "schema": "expected-vote/1", "election_id": "e", "race_id": "president", "state": "MN",
        "expected_votes": None, "county_expected": {"27053": 2200, "27001": 600}, "seq": 1,
        "issued_at": "2024-11-06T01:00:00Z"}))
    room.mark_all_dirty()
    [published] = room.state()["counties_outstanding"]
    assert (published["votes_outstanding"], published["expected_vote_source"]) == (600, "published")


def test_the_models_alerts_come_once_each_with_ids_that_do_not_depend_on_the_run() -> None:
    room = Watched()
    room.book.put_expected(expected_vote(3000, 1))  # outside the model's 95% interval, [2750, 2750]
    room.state()
    assert [a.type for a in room.alerts] == ["projection_settled", "expected_vote_disagrees"]
    settled, disagrees = room.alerts
    assert settled.details["model_expected_range"] == {"80": [2750, 2750], "90": [2750, 2750], "95": [2750, 2750]}
    assert disagrees.details["published_expected_votes"] == 3000
    room.apply_record([report(OUT[0], complete=False, harris=10, trump=5)], 1_730_862_000_000)
    room.state()
    assert len(room.alerts) == 2  # each said once
    room.book.put_expected(expected_vote(3100, 2))
    room.mark_all_dirty()
    room.state()
    assert [a.type for a in room.alerts[2:]] == ["expected_vote_disagrees"]  # once per published seq
    again = Watched()
    again.book.put_expected(expected_vote(3000, 1))
    again.state()
    assert [a.alert_id for a in again.alerts] == [settled.alert_id, disagrees.alert_id]


def test_a_published_estimate_inside_the_interval_raises_nothing() -> None:
    room = Watched()
    room.book.put_expected(expected_vote(2750, 1))
    room.state()
    assert [a.type for a in room.alerts] == ["projection_settled"]


def test_a_rebuilt_tally_with_a_baseline_is_released_once_it_reaches_what_was_published() -> None:
    """The held version must count the baseline as the published one did, or it is never reached."""
    before = Watched()
    published = before.state()
    room = Watched(reported=19)  # rebuilt to one report short of what an earlier owner published
    holds = Holds(room, lambda _race: 0)
    holds.hold_back({0}, {LIVE.state_result_key: Floor(published["version"], published["total_votes"], 20)})
    assert list(room.due_state_snapshots()) == []  # held: short of the published count
    room.apply_record([report(REPORTED[19])], 1_730_862_000_000)
    assert room.state()["version"] == published["version"]


class FakeOutbox:
    def __init__(self) -> None:
        self.dead: list[str] = []

    def dead_letter(self, message: Any, error: Exception) -> None:
        self.dead.append(str(error))


class Message(NamedTuple):
    topic: str
    value: bytes | None
    offset: int = 0


def test_the_race_book_follows_baselines_and_sends_bad_ones_to_dead_letters() -> None:
    room, outbox = Watched(with_baseline=False), FakeOutbox()
    reader = BookReader(Settings.from_env({}), room, outbox, asyncio.Event())  # type: ignore[arg-type]  # a fake
    room.state()
    reader.take_book_record(Message("p.baselines", json.dumps(baseline(seq=2)).encode()), fresh=True)
    assert room.book.baselines[LIVE.race].seq == 2
    assert room.state()["model_expected_votes"] == 2750  # the race was due again
    reader.take_book_record(Message("p.baselines", b'{"schema": "baseline/1"}'), fresh=True)
    reader.take_book_record(Message("p.baselines", b"not json"), fresh=False)  # replayed: said before
    assert len(outbox.dead) == 1
    assert room.book.baselines[LIVE.race].seq == 2


def test_the_worker_metrics_count_runs_time_them_and_keep_the_units_used() -> None:
    registry = CollectorRegistry()
    metrics = worker_metrics(registry)
    room = Watched()
    room.models = RaceModels(2.0, metrics.model_run)
    room.state()
    labels = {"election": "e", "race": "president", "state": "MN", "mode": "live"}
    assert registry.get_sample_value("votewire_model_runs_total", {"outcome": "estimate"}) == 1
    assert registry.get_sample_value("votewire_model_runs_total", {"outcome": "no_estimate"}) == 0
    assert registry.get_sample_value("votewire_model_seconds_count") == 1
    assert registry.get_sample_value("votewire_model_units_used", labels) == 20



def called_for_harris(revision: int) -> RaceCall:
    value = race_call_value("e/president/MN", "live", "called", ["harris"], "AP", "2024-11-06T04:00:00Z", 1)
    return dataclasses.replace(parse_race_call(value), revision=revision)


def test_the_version_counts_the_baseline_and_the_call_and_so_do_the_holds() -> None:
    """A race with both a baseline and a race call: its version carries the two, and a rebuilt
    tally is held against that version, then released once it reaches it."""
    before = Watched()
    before.take_call(called_for_harris(revision=9))
    published = before.state()
    # seq + 1 over 20 units at seq 0, the definition's revision 0, the baseline's seq 0 + 1, the call's offset 9
    assert published["version"] == 20 + 0 + 1 + 9
    assert (published["call"]["status"], published["model_expected_votes"]) == ("called", 2750)
    room = Watched(reported=19)
    room.take_call(called_for_harris(revision=9))
    holds = Holds(room, lambda _race: 0)
    holds.hold_back({0}, {LIVE.state_result_key: Floor(published["version"], published["total_votes"], 20)})
    assert list(room.due_state_snapshots()) == []  # held: short of the published count
    room.apply_record([report(REPORTED[19])], 1_730_862_000_000)
    assert room.state() == published
