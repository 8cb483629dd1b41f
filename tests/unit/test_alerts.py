"""Every alert type, raised once when its condition becomes true, with ids that replay the same.

Unit alerts come per report; race alerts compare the race's figures before and after a whole
record (a poll or a batch is one observation). `Night.feed` sends a record of one report.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.contract import Alert, Candidate, ExpectedVote, PrecinctReport, RaceDefinition, TallyKey
from streams.counting.alerts import (
    MILESTONES,
    NEEDS_THRESHOLDS,
    Standing,
    _marks,
    alert_value,
    expected_alerts,
    race_alerts,
    standing,
    unit_alerts,
)
from streams.counting.snapshots import state_snapshot
from streams.counting.tally import RaceTally

T0 = 1_730_854_800_000
MN = TallyKey("2024-11-05", "president", "MN", "live")
DEFINITION = RaceDefinition(
    "2024-11-05", "president", "MN", "U.S. President",
    (Candidate("harris", "Kamala D. Harris", "DEM"), Candidate("trump", "Donald J. Trump", "REP"),
     Candidate("oliver", "Chase Oliver", "LIB")),
    4_100, "2024-11-06T01:00:00Z", T0, certified=False,
)


def report(precinct: str, seq: int, votes: dict[str, int], county: str = "27053", **kw: Any) -> PrecinctReport:
    fields: dict[str, Any] = {"complete": True} | kw
    return PrecinctReport("2024-11-05", "president", "MN", county, precinct, seq, f"2024-11-06T03:{seq:02d}:00Z",
                          T0 + 7_200_000 + seq, votes, **fields)


def estimate(statewide: int | None, seq: int = 0, counties: dict[str, int] | None = None) -> ExpectedVote:
    issued_at = f"2024-11-06T02:{seq:02d}Z"
    return ExpectedVote("2024-11-05", "president", "MN", statewide, counties or {}, seq, issued_at, T0)


class Night:
    """Feeds records to a tally the way the counting room does: the race's standing before the
    record, each report applied with its unit alerts, the standing after, the race alerts."""

    def __init__(self, expected: ExpectedVote | None = None, definition: RaceDefinition | None = DEFINITION) -> None:
        self.tally = RaceTally(MN)
        self.expected = expected
        self.definition = definition

    def feed(self, r: PrecinctReport) -> list[Alert]:
        return self.feed_record([r])

    def feed_record(self, reports: list[PrecinctReport]) -> list[Alert]:
        before = standing(self.tally, self.definition, self.expected)
        alerts, last = [], None
        for r in reports:
            applied = self.tally.apply(r)
            if applied.unit is not None:
                last = r
                alerts += unit_alerts(MN, r, applied, self.tally.votes, self.definition)
        if last is None:
            return alerts
        after = standing(self.tally, self.definition, self.expected)
        return alerts + race_alerts(MN, last, before, after, self.definition)

    def revise(self, new: ExpectedVote) -> list[Alert]:
        alerts = expected_alerts(self.expected, new, [self.tally], self.definition)
        self.expected = new
        return alerts


def types(alerts: list[Alert]) -> list[str]:
    return [a.type for a in alerts]


def test_lead_change_names_both_candidates_with_their_shares() -> None:
    night = Night()
    assert night.feed(report("p1", 0, {"harris": 479, "trump": 400, "oliver": 9})) == []  # a first leader is no change
    [alert] = night.feed(report("p2", 0, {"trump": 112}))  # trump 512, harris 479 of 1000
    assert alert.type == "lead_change"
    assert alert.severity == "info"
    assert alert.message == "Trump overtook Harris in MN president (live): 51.2% to 47.9%."
    assert alert.details["leader"] == "trump"
    assert alert.details["previous_leader"] == "harris"
    assert alert.at == "2024-11-06T03:00:00Z"
    assert (alert.county_fips, alert.precinct_id) == (None, None)


def test_no_lead_change_into_a_tie() -> None:
    night = Night()
    night.feed(report("p1", 0, {"harris": 10, "trump": 5}))
    assert night.feed(report("p2", 0, {"trump": 5})) == []


def test_a_lead_lost_and_won_back_within_one_record_is_no_lead_change() -> None:
    night = Night()
    night.feed(report("p1", 0, {"harris": 100, "trump": 90}))
    # Alone, p2 would hand Trump the lead and p3 give it back: two lead changes. In one poll
    # the race is observed once, before and after: Harris led and leads.
    assert night.feed_record([report("p2", 0, {"trump": 20}), report("p3", 0, {"harris": 20})]) == []
    assert night.tally.votes == {"harris": 120, "trump": 110}


def test_a_lead_change_over_a_record_names_its_last_report() -> None:
    night = Night()
    night.feed(report("p1", 0, {"harris": 100, "trump": 90}))
    [alert] = night.feed_record([report("p2", 1, {"trump": 5}), report("p3", 2, {"trump": 10})])
    assert (alert.type, alert.details["leader"], alert.details["total_votes"]) == ("lead_change", "trump", 205)
    assert alert.at == "2024-11-06T03:02:00Z"  # the time of the race's last report in the record
    # Its id names that report: the same record again gives the same id, another record another.
    again = Night()
    again.feed(report("p1", 0, {"harris": 100, "trump": 90}))
    assert again.feed_record([report("p2", 1, {"trump": 5}), report("p3", 2, {"trump": 10})]) == [alert]
    other = Night()
    other.feed(report("p1", 0, {"harris": 100, "trump": 90}))
    [moved] = other.feed_record([report("p3", 2, {"trump": 10}), report("p2", 1, {"trump": 5})])
    assert moved.alert_id != alert.alert_id


def test_milestones_crossed_within_a_record_fire_once_each() -> None:
    night = Night(estimate(1000))
    alerts = night.feed_record([report(f"p{i}", 0, {"harris": 60, "trump": 40}) for i in range(6)])  # 60%
    assert [a.details["threshold"] for a in alerts if a.type == "counted_milestone"] == [25, 50]
    assert {a.at for a in alerts} == {"2024-11-06T03:00:00Z"}


def test_unit_alerts_stay_per_report_within_a_record() -> None:
    night = Night()
    night.feed_record([report("p1", 0, {"harris": 300, "trump": 200}), report("p2", 0, {"harris": 50})])
    alerts = night.feed_record([report("p1", 1, {"harris": 290, "trump": 200}),
                                report("p2", 1, {"harris": 40}),
                                report("p3", 0, {"harris": 1, "write-in": 2}),
                                report("p4", 0, {"write-in": 3})])  # write-in already has votes: no alert
    assert [(a.type, a.precinct_id) for a in alerts] == [
        ("count_decreased", "p1"), ("count_decreased", "p2"), ("unknown_candidate", "p3")]


def test_a_record_of_duplicates_raises_nothing() -> None:
    night = Night(estimate(100))
    night.feed(report("p1", 0, {"harris": 90, "trump": 20}))
    assert night.feed_record([report("p1", 0, {"harris": 1}), report("p1", 0, {"trump": 99})]) == []


def test_counted_milestones_fire_once_each_when_crossed_upward() -> None:
    night = Night(estimate(1000))
    assert night.feed(report("p1", 0, {"harris": 100, "trump": 149})) == []  # 24.9%
    first = night.feed(report("p2", 0, {"harris": 1}))  # exactly 25.0%
    assert [(a.type, a.details["threshold"]) for a in first] == [("counted_milestone", 25)]
    assert first[0].message == "25% of the expected vote is now counted in MN president (live)."
    more = night.feed(report("p3", 0, {"harris": 300, "trump": 200}))  # 75.0%: 50 and 75 at once
    assert [a.details["threshold"] for a in more if a.type == "counted_milestone"] == [50, 75]
    assert night.feed(report("p4", 0, {"harris": 1})) == []


def test_count_decreased_follows_a_lower_total() -> None:
    night = Night()
    night.feed(report("p1", 0, {"harris": 300, "trump": 200}))
    [alert] = night.feed(report("p1", 1, {"harris": 290, "trump": 200}))
    assert alert.type == "count_decreased"
    assert alert.severity == "warning"
    assert (alert.county_fips, alert.precinct_id) == ("27053", "p1")
    assert alert.details["decreases"] == {"harris": [300, 290]}
    assert (alert.details["previous_total"], alert.details["total"]) == (500, 490)
    assert "from 500 to 490 votes" in alert.message
    assert night.tally.total_votes == 490


def test_a_unit_that_is_a_whole_county_is_called_by_the_county_name() -> None:
    night = Night()
    night.feed(report("27061", 0, {"harris": 300, "trump": 200}, county="27061"))
    [alert] = night.feed(report("27061", 1, {"harris": 290, "trump": 200}, county="27061"))
    assert alert.message.startswith("Itasca County lowered its total from 500 to 490 votes")
    [precinct] = Night().feed(report("p1", 0, {"harris": 1}, registered_voters=0))
    assert precinct.message.startswith("Precinct p1 (Hennepin County) reports 1 votes")


def test_a_county_without_a_known_name_is_called_by_its_fips() -> None:
    night = Night()
    night.feed(report("27999", 0, {"harris": 300, "trump": 200}, county="27999"))
    [alert] = night.feed(report("27999", 1, {"harris": 290, "trump": 200}, county="27999"))
    assert alert.message.startswith("County 27999 lowered its total")
    [precinct] = Night().feed(report("p1", 0, {"harris": 1}, county="02013", registered_voters=0))
    assert precinct.message.startswith("Precinct p1 (county 02013) reports")  # Alaska: no names (see data)


def test_naming_the_county_leaves_the_alert_ids_as_they_were() -> None:
    # The ids of these two alerts before counties were named in messages: consumers that drop
    # repeats by id must see a re-processed night as repeats.
    night = Night()
    night.feed(report("27061", 0, {"harris": 300, "trump": 200}, county="27061"))
    [decrease] = night.feed(report("27061", 1, {"harris": 290, "trump": 200}, county="27061"))
    [unknown] = Night().feed(report("p1", 0, {"harris": 1, "stein": 2}, county="27061"))
    assert (decrease.alert_id, unknown.alert_id) == ("a13dcf949b257d27af88c2ae", "ec2e8cf372d3813486d14eea")
    assert unknown.message.startswith("Precinct p1 (Itasca County) reports 2 votes for 'stein'")


def test_count_decreased_when_one_candidate_drops_even_if_the_total_rises() -> None:
    night = Night()
    night.feed(report("p1", 0, {"harris": 300, "trump": 200, "oliver": 4}))
    [alert] = night.feed(report("p1", 1, {"harris": 310, "trump": 240}))  # oliver's 4 withdrawn
    assert alert.type == "count_decreased"
    assert alert.details["decreases"] == {"oliver": [4, 0]}
    assert "Oliver from 4 to 0 votes" in alert.message


def test_votes_exceed_expected_fires_when_it_becomes_true() -> None:
    night = Night(estimate(500))
    night.feed(report("p1", 0, {"harris": 250, "trump": 250}))  # 500 of 500: not over
    alerts = night.feed(report("p2", 0, {"trump": 1}))
    assert "votes_exceed_expected" in types(alerts)
    assert night.feed(report("p3", 0, {"trump": 1})) == []


def test_votes_exceed_expected_once_per_expected_figure_through_corrections() -> None:
    # A correction takes the count back under the estimate and a later report passes it again:
    # the estimate was already known to be low, so a desk hears it once per figure, not per crossing.
    night = Night(estimate(1000))
    [first] = exceeded(night.feed(report("p1", 0, {"harris": 600, "trump": 405})))
    assert types(night.feed(report("p1", 1, {"harris": 590, "trump": 400}))) == ["count_decreased"]  # 990
    assert "votes_exceed_expected" not in types(night.feed(report("p2", 0, {"harris": 20})))  # 1010 again
    # A revised estimate is a new figure: passing it is news again, under its own id.
    assert "votes_exceed_expected" not in types(night.revise(estimate(1100, seq=1)))
    [again] = exceeded(night.feed(report("p3", 0, {"trump": 100})))
    assert again.details == {"total_votes": 1110, "expected_votes": 1100}
    assert again.alert_id != first.alert_id
    # The id names the figure passed, not the report that passed it: a worker that rebuilt the
    # tally and sees it pass the same figure again sends the id a consumer already has.
    other = Night(estimate(1000))
    other.feed(report("p9", 0, {"harris": 990}))
    [same] = exceeded(other.feed(report("p8", 3, {"trump": 11})))
    assert same.alert_id == first.alert_id


def exceeded(alerts: list[Alert]) -> list[Alert]:
    return [a for a in alerts if a.type == "votes_exceed_expected"]


def test_turnout_above_registered_voters_is_critical_once_per_unit() -> None:
    night = Night()
    [alert] = night.feed(report("p1", 0, {"harris": 700, "trump": 600}, registered_voters=1200))
    assert (alert.type, alert.severity, alert.precinct_id) == ("turnout_exceeds_registered", "critical", "p1")
    assert alert.details == {"total": 1300, "registered_voters": 1200}
    assert night.feed(report("p1", 1, {"harris": 710, "trump": 600}, registered_voters=1200)) == []
    assert night.feed(report("p2", 0, {"harris": 100}, registered_voters=100)) == []  # equal is fine


def test_out_of_reach_fires_when_the_margin_passes_the_votes_remaining() -> None:
    night = Night(estimate(1000))
    night.feed(report("p1", 0, {"harris": 400, "trump": 300}))  # margin 100, 300 remaining
    alerts = night.feed(report("p2", 0, {"harris": 200, "trump": 50}))  # margin 250, 50 remaining
    [alert] = [a for a in alerts if a.type == "out_of_reach"]
    assert alert.details == {"leader": "harris", "margin_votes": 250, "votes_remaining": 50, "expected_votes": 1000}
    assert alert.message.startswith("Harris's lead of 250 votes")
    assert "out_of_reach" not in types(night.feed(report("p3", 0, {"harris": 1})))


def test_unknown_candidate_fires_when_the_tally_first_sees_its_votes() -> None:
    night = Night()
    [alert] = night.feed(report("p1", 0, {"harris": 5, "write-in": 2}))
    assert (alert.type, alert.severity, alert.details) == ("unknown_candidate", "warning",
                                                            {"candidate_id": "write-in", "votes": 2})
    assert night.feed(report("p2", 0, {"write-in": 3})) == []
    assert night.tally.votes["write-in"] == 5


def test_without_a_definition_no_candidate_is_called_unknown() -> None:
    night = Night(definition=None)
    assert night.feed(report("p1", 0, {"harris": 5, "write-in": 2})) == []


def test_duplicates_and_stale_reports_raise_nothing() -> None:
    night = Night(estimate(100))
    night.feed(report("p1", 3, {"harris": 90, "trump": 20}, registered_voters=50))
    assert night.feed(report("p1", 3, {"harris": 1}, registered_voters=0)) == []
    assert night.feed(report("p1", 1, {"harris": 1}, registered_voters=0)) == []


def test_expected_vote_revised_and_what_the_revision_makes_true() -> None:
    night = Night(estimate(2000))
    night.feed(report("p1", 0, {"harris": 700, "trump": 400}))  # 1100 of 2000 = 55%
    alerts = night.revise(estimate(1200, seq=1))  # 91.7%; margin 300 > 100 remaining
    # Trump needed (900 + 300) / 1800 = 66.7% of the vote still out (past 60 already); now
    # (100 + 300) / 200 = 200%: more than all that remains, so no "now needs 200%" for 70 and 80.
    assert types(alerts) == ["expected_vote_revised", "counted_milestone", "counted_milestone", "out_of_reach",
                             "needs_more_than_remaining"]
    assert alerts[0].message == "The expected vote in MN president (live) was revised from 2,000 to 1,200."
    assert alerts[0].at == "2024-11-06T02:01Z"
    assert [a.details["threshold"] for a in alerts[1:3]] == [75, 90]
    lower = night.revise(estimate(1050, seq=2))  # 50 more counted than expected: not "out of reach"
    assert types(lower) == ["expected_vote_revised", "votes_exceed_expected"]
    assert lower[1].details == {"total_votes": 1100, "expected_votes": 1050}


def test_a_first_estimate_with_no_tally_yet_is_announced_for_live() -> None:
    [alert] = expected_alerts(None, estimate(None, counties={"27053": 10}), [])
    assert (alert.type, alert.mode) == ("expected_vote_revised", "live")
    assert alert.message == "The expected vote in MN president (live) was set at 10."


def play(night: Night) -> list[Alert]:
    alerts = night.feed(report("p1", 0, {"harris": 300, "trump": 200, "x": 1}, registered_voters=400))
    alerts += night.revise(estimate(1000, seq=2))
    alerts += night.feed(report("p2", 0, {"trump": 400}))
    alerts += night.feed(report("p1", 1, {"harris": 250, "trump": 200}))
    return alerts


def test_the_same_input_yields_the_same_alert_ids() -> None:
    first, again = play(Night()), play(Night())
    assert len(first) >= 6
    assert [a.alert_id for a in first] == [a.alert_id for a in again]
    assert len({a.alert_id for a in first}) == len(first)


@pytest.mark.parametrize("local", [True, False])
def test_alert_value_is_the_alert_1_message(local: bool) -> None:
    alerts = play(Night())
    alert = next(a for a in alerts if (a.precinct_id is not None) is local)
    value = alert_value(alert)
    assert value["schema"] == "alert/1"
    base = {"schema", "alert_id", "type", "severity", "election_id", "race_id", "state", "mode", "message",
            "details", "at"}
    assert set(value) == (base | {"county_fips", "precinct_id"} if local else base)
    assert value["alert_id"] == alert.alert_id
    assert value["state"] == "MN"


def test_needs_share_crossed_fires_once_per_threshold_for_the_same_trailer() -> None:
    night = Night(estimate(1000))
    # harris 110, trump 90: 800 out, margin 20, Trump needs 820 / 1600 = 51.3%
    assert night.feed(report("p1", 0, {"harris": 110, "trump": 90})) == []
    # harris 420, trump 100 of 1000: 480 out, margin 320, needs 800 / 960 = 83.3%: 60, 70 and 80 at once
    crossed = night.feed(report("p2", 0, {"harris": 310, "trump": 10}))
    assert types(crossed) == ["counted_milestone", "counted_milestone", "needs_share_crossed",
                              "needs_share_crossed", "needs_share_crossed"]
    assert [a.details["threshold"] for a in crossed[2:]] == [60, 70, 80]
    first = crossed[2]
    assert first.message == ("Trump now needs 83.3% of the 480 expected votes still out to overtake Harris "
                             "in MN president (live).")
    assert first.details == {"threshold": 60, "trailer": "trump", "leader": "harris", "needs_pct_of_remaining": 83.3,
                             "votes_outstanding": 480, "margin_votes": 320, "expected_votes": 1000}
    assert (first.county_fips, first.precinct_id) == (None, None)
    # Still above 80% (470 out, margin 330: 800 / 940 = 85.1%): nothing new
    assert night.feed(report("p3", 0, {"harris": 10})) == []


def test_needs_more_than_remaining_message_and_once_only() -> None:
    night = Night(estimate(1000))
    night.feed(report("p1", 0, {"harris": 500, "trump": 300}))  # 200 out, margin 200: exactly 100%, not more
    [over] = [a for a in night.feed(report("p2", 0, {"harris": 1})) if a.type == "needs_more_than_remaining"]
    # 199 out, margin 201: (199 + 201) / 398 = 100.5%
    assert over.message == ("Trump cannot catch up with Harris in MN president (live): Harris leads by 201 votes "
                            "with 199 expected votes still out.")
    assert over.details["needs_pct_of_remaining"] == 100.5
    assert "needs_more_than_remaining" not in types(night.feed(report("p3", 0, {"harris": 1})))


def test_a_count_back_under_a_passed_estimate_raises_no_needs_or_out_of_reach_again() -> None:
    # The Minnesota night's Senate race on Dec 13: out of reach since election night, its count
    # passed the (hindsight) estimate, and a county's correction took it back to 2 votes short.
    # That raised "White would need 12518300.0% of the 2 expected votes still out": the vote out
    # was unknown a report before, so nothing about it became true; it was said long ago.
    night = Night(estimate(1000))
    first = night.feed(report("p1", 0, {"harris": 700, "trump": 200}))  # 100 out, margin 500
    assert [t for t in types(first) if t in ("out_of_reach", "needs_more_than_remaining")] == [
        "out_of_reach", "needs_more_than_remaining"]
    assert types(night.feed(report("p2", 0, {"harris": 110}, county="27061"))) == ["votes_exceed_expected"]
    back = night.feed(report("p2", 1, {"harris": 98}, county="27061"))  # 998 counted: 2 out, margin 598
    assert types(back) == ["count_decreased"]  # the correction is the news
    # The same with the count exactly on the estimate (no vote out, already out of reach) and a
    # correction leaving 1 vote out: the trailer could not catch up before either.
    exact = Night(estimate(1000))
    exact.feed(report("p1", 0, {"harris": 700, "trump": 200}))
    exact.feed(report("p2", 0, {"harris": 100}, county="27061"))  # 1000 counted: 0 out
    assert types(exact.feed(report("p2", 1, {"harris": 99}, county="27061"))) == ["count_decreased"]


def test_a_trailer_who_cannot_catch_up_is_told_so_without_an_absurd_share() -> None:
    night = Night(estimate(1000))
    night.feed(report("p1", 0, {"harris": 110, "trump": 90}))  # Trump needs 51.3% of 800
    jump = night.feed(report("p2", 0, {"harris": 798}))  # 2 out, margin 818: (2 + 818) / 4 = 20500%
    # No "now needs 20500.0%" for 60, 70 and 80: past 100% the one thing to say is that he cannot.
    assert [t for t in types(jump) if "needs" in t] == ["needs_more_than_remaining"]
    [over] = [a for a in jump if a.type == "needs_more_than_remaining"]
    assert over.message == ("Trump cannot catch up with Harris in MN president (live): Harris leads by 818 votes "
                            "with 2 expected votes still out.")
    assert over.details["needs_pct_of_remaining"] == 20500.0  # the figure stays, as in the snapshot


def test_a_certified_race_needs_nothing() -> None:
    night = Night(estimate(1000), dataclasses.replace(DEFINITION, certified=True))
    alerts = night.feed(report("p1", 0, {"harris": 700, "trump": 200}))  # 100 out, margin 500
    assert [t for t in types(alerts) if "needs" in t] == []


def test_a_new_trailer_starts_afresh_and_no_trailer_raises_nothing() -> None:
    night = Night(estimate(100))
    # a tie for first: no leader, no trailer, nothing needed
    assert [t for t in types(night.feed(report("p1", 0, {"harris": 20, "trump": 20}))) if "needs" in t] == []
    # harris 40, trump 20 (60 of 100): Trump needs (40 + 20) / 80 = 75%
    assert [a.details["trailer"] for a in night.feed(report("p2", 0, {"harris": 20})) if "needs" in a.type] == [
        "trump", "trump"]
    # trump 70, harris 40 (110 of 100): past the estimate, the vote still out is unknown: no needs alerts
    assert [t for t in types(night.feed(report("p3", 0, {"trump": 50}))) if "needs" in t] == []
    # only one candidate with votes: the trailer is the next candidate by id (0 votes)
    solo = Night(estimate(100))
    crossed = [a for a in solo.feed(report("p1", 0, {"trump": 30})) if a.type == "needs_share_crossed"]
    # 70 out, margin 30: (70 + 30) / 140 = 71.4%; harris sorts before oliver
    assert [(a.details["trailer"], a.details["threshold"]) for a in crossed] == [("harris", 60), ("harris", 70)]
    # trump's count corrected to 0: no votes, no leader, nothing needed
    assert [a for a in solo.feed(report("p1", 1, {"trump": 0})) if "needs" in a.type] == []


def test_needs_alerts_are_o1_figures_of_the_standing() -> None:
    tally = RaceTally(MN)
    tally.apply(report("p1", 0, {"trump": 5, "harris": 5, "oliver": 9}))
    s = standing(tally, DEFINITION, estimate(100))
    # oliver leads 9 to 5; harris and trump tie for second, harris first by id as in a snapshot
    assert (s.leader, s.trailer, s.margin_votes, s.outstanding) == ("oliver", "harris", 4, 81)
    assert s.needs_pct == 52.5  # (81 + 4) / 162 = 52.47
    assert standing(tally, dataclasses.replace(DEFINITION, certified=True), estimate(100)).needs_pct is None


# --- the marks: the fast form agrees with the Standing's spelled-out yes/no ---------------------

@given(total=st.integers(0, 10**9), margin=st.integers(0, 10**9), expected=st.none() | st.integers(1, 10**9),
       certified=st.booleans(), trailer=st.none() | st.just("b"))
@settings(max_examples=3000, deadline=None)
def test_marks_say_what_the_standing_methods_say(total: int, margin: int, expected: int | None, certified: bool,
                                                 trailer: str | None) -> None:
    margin = min(margin, total)  # a margin is never more than the votes counted
    s = Standing({}, total, "a" if margin else None, margin, expected, certified, trailer)
    marks = _marks(total, margin, expected, certified, trailer)
    if expected is None:
        assert marks == ()
        return
    milestones, exceeds, out, needs, more = marks
    assert milestones == sum(1 for t in MILESTONES if s.reached(t))
    assert exceeds == s.exceeds_expected
    assert out == s.out_of_reach
    assert needs == sum(1 for t in NEEDS_THRESHOLDS if s.needs_at_least(t))
    assert more == s.needs_more_than_remaining


def test_marks_at_the_exact_thresholds() -> None:
    # 75% exactly is reached, one vote short is not; 60% of what is left exactly is "needs 60%".
    assert _marks(750, 0, 1000, False, None)[0] == 3
    assert _marks(749, 0, 1000, False, None)[0] == 2
    # 100 left, a margin of 20: the trailer needs (100 + 20) / 2 = 60 of the 100, exactly 60%.
    assert _marks(900, 20, 1000, False, "b")[3] == 1
    assert _marks(900, 21, 1000, False, "b")[3] == 1
    assert _marks(900, 19, 1000, False, "b")[3] == 0


CANDIDATE_IDS = st.sampled_from(["harris", "trump", "oliver", "stein", "aaa-write-in", "zz-write-in"])


@settings(max_examples=300, deadline=None)
@given(votes=st.dictionaries(CANDIDATE_IDS, st.integers(0, 5)), defined=st.sets(CANDIDATE_IDS, max_size=4))
def test_an_alerts_leader_and_trailer_are_the_snapshots(votes: dict[str, int], defined: set[str]) -> None:
    """Alerts name the leader and trailer the snapshot published beside them names, candidates
    with no votes and candidates the definition lacks included (one implementation of the places)."""
    definition = dataclasses.replace(DEFINITION, candidates=tuple(Candidate(c, c, "") for c in sorted(defined)))
    tally = RaceTally(MN)
    tally.apply(report("p1", 0, votes))
    snapshot = state_snapshot(tally, definition, estimate(1_000))
    now = standing(tally, definition, estimate(1_000))
    assert (now.leader, now.margin_votes, now.trailer) == (
        snapshot["leader"], snapshot["margin_votes"], snapshot["trailer"])
