"""Whether to alert: pure functions from what a record changed to `results-alerts` messages.

Alerts depend only on the input sequence (design rule 5). Alerts about a unit are raised per
report (`unit_alerts`); alerts about a race compare a cheap `Standing` taken before and after a
whole record, a poll or a batch being one observation (`race_alerts`), and carry the source
time of the race's last report in it. `alert_id` hashes the alert type, the tally and what
identifies the event (the precinct and its seq, the threshold, the estimate's seq, the
expected-vote figure passed), so re-processing the same input yields the same id and consumers
can drop the repeat that at-least-once delivery may bring.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Iterable
from typing import Any, Literal, NamedTuple

from streams.contract import Alert, AlertType, ExpectedVote, PrecinctReport, RaceDefinition, TallyKey
from streams.counting.figures import (
    last_seat,
    leader_and_trailer,
    needs_pct_of_remaining,
    out_of_reach,
    pct_expected_counted,
    share,
    votes_outstanding,
)
from streams.counting.tally import Applied, RaceTally, StoredUnit
from streams.geo.geography import county_names

Severity = Literal["info", "warning", "critical"]
ALERT_SCHEMA = "alert/1"
MILESTONES = (25, 50, 75, 90)  # percent of the expected vote counted
NEEDS_THRESHOLDS = (60, 70, 80)  # percent of the outstanding vote the trailing candidate needs


class Standing(NamedTuple):
    """The figures race alerts compare, taken just before and just after a record: O(candidates).

    A NamedTuple because two are made per race of a record on the hot path.
    """

    votes: dict[str, int]  # a copy: the tally's own dict changes under the next apply
    total_votes: int
    # In a vote-for-N race, the race for the last seat: `leader` holds it, `margin_votes` is its
    # lead and `trailer` the first one out (as a snapshot's seat margin: streams.counting.race_status).
    leader: str | None  # None on a tie or with no votes
    margin_votes: int
    expected_votes: int | None
    certified: bool
    # Second place behind a leader (ties by candidate_id, as in a snapshot's `candidates`).
    trailer: str | None = None
    # Every yes/no that a standing alert fires on, as one tuple (`_marks`): equal marks and the
    # same trailer before and after a record mean no standing alert, checked in one comparison.
    marks: tuple[object, ...] = ()
    # The expected-vote figures the count has been over, now or at an earlier standing of the
    # tally: `votes_exceed_expected` is said once per figure, not again after a correction.
    passed: frozenset[int] = frozenset()

    def reached(self, threshold: int) -> bool:
        """At least `threshold` percent of the expected vote counted (exactly, not rounded)."""
        return self.expected_votes is not None and 100 * self.total_votes >= threshold * self.expected_votes

    @property
    def exceeds_expected(self) -> bool:
        return self.expected_votes is not None and self.total_votes > self.expected_votes

    @property
    def votes_remaining(self) -> int | None:
        return self.expected_votes - self.total_votes if self.expected_votes is not None else None

    @property
    def out_of_reach(self) -> bool:
        return out_of_reach(self.margin_votes, self.votes_remaining)

    @property
    def pct_counted(self) -> float | None:
        return pct_expected_counted(self.total_votes, self.expected_votes, self.certified)

    @property
    def outstanding(self) -> int | None:
        return votes_outstanding(self.total_votes, self.expected_votes, self.certified)

    @property
    def needs_pct(self) -> float | None:
        return needs_pct_of_remaining(self.margin_votes, self.outstanding, self.trailer)

    def needs_at_least(self, threshold: int) -> bool:
        """The trailer needs at least `threshold` percent of the outstanding vote (exactly), and no
        more than all of it: past 100% there is no share to need (`needs_more_than_remaining`)."""
        left = self.outstanding
        if self.trailer is None or not left or self.margin_votes > left:
            return False
        return 100 * (left + self.margin_votes) >= 2 * threshold * left

    @property
    def needs_more_than_remaining(self) -> bool:
        """The trailer would need more than 100% of the outstanding vote (some is still out)."""
        left = self.outstanding
        return self.trailer is not None and left is not None and 0 < left < self.margin_votes


# The worker takes a standing after each record and the same one again before the next: the
# last one is kept on the tally (`RaceTally.memo`) and reused while the tally's units and the
# figures it was taken with are unchanged.


def standing(tally: RaceTally, definition: RaceDefinition | None, expected: ExpectedVote | None) -> Standing:
    expected_votes = tally.expected_votes(expected)
    certified = definition is not None and definition.certified
    # seq_sum rises with every applied report, so with units_total it names the tally's state.
    seats = definition.rules.seats if definition is not None else 1
    token = (tally.seq_sum, tally.units_total, expected_votes, certified, seats)
    last = tally.memo
    if last is not None and last[0] == token:
        return last[1]  # type: ignore[no-any-return]  # the memo holds what this function put there
    # The same places as a snapshot's `leader` and `trailer` (figures.leader_and_trailer).
    ids = _candidate_ids(definition) if definition else ()
    leader, margin, runner = leader_and_trailer(tally.votes, ids) if seats == 1 else last_seat(tally.votes, ids, seats)
    total = tally.total_votes
    result = Standing(dict(tally.votes), total, leader, margin, expected_votes, certified, runner,
                      _marks(total, margin, expected_votes, certified, runner),
                      _passed(last[1].passed if last is not None else frozenset(), total, expected_votes))
    tally.memo = (token, result)
    return result


def _passed(before: frozenset[int], total: int, expected: int | None) -> frozenset[int]:
    """The figures passed so far, with `expected` if `total` is over it (the memo carries them
    from one standing of the tally to the next; a rebuilt tally starts afresh, see _votes_exceed_expected)."""
    if expected is None or total <= expected or expected in before:
        return before
    return before | {expected}


class _Event(NamedTuple):
    """Where an alert comes from: the tally, the record's source time, what identifies it."""

    key: TallyKey
    definition: RaceDefinition | None
    at: str
    ident: tuple[str, ...]  # e.g. ("precinct", "27053-0005", "4") or ("expected", "7")
    county_fips: str | None = None
    precinct_id: str | None = None

    @property
    def place(self) -> str:
        return f"{self.key.state} {self.key.race_id} ({self.key.mode})"

    @property
    def seats(self) -> int:
        return self.definition.rules.seats if self.definition is not None else 1

    def name(self, candidate_id: str | None) -> str:
        for c in self.definition.candidates if self.definition is not None else ():
            if c.candidate_id == candidate_id:
                return c.display
        return str(candidate_id)

    def alert(self, type_: AlertType, severity: Severity, message: str, details: dict[str, object],
              *extra: str, local: bool = False) -> Alert:
        """One alert; `local` ones (about one unit) carry its county and precinct."""
        parts = (type_, self.key.state_result_key, *self.ident, *extra)
        alert_id = hashlib.sha1("\x1f".join(parts).encode(), usedforsecurity=False).hexdigest()[:24]
        k = self.key
        return Alert(alert_id, type_, severity, k.election_id, k.race_id, k.state, k.mode, message, self.at,
                     details, self.county_fips if local else None, self.precinct_id if local else None)


def unit_alerts(key: TallyKey, report: PrecinctReport, applied: Applied, tally_votes: dict[str, int],
                definition: RaceDefinition | None) -> list[Alert]:
    """Alerts about the unit one report changed (`count_decreased`, `turnout_exceeds_registered`,
    `unknown_candidate`): raised per report, with the tally's votes just after it (`tally_votes`).
    None for a duplicate or stale report."""
    unit, previous = applied.unit, applied.previous
    if unit is None or _unit_quiet(unit, previous, definition):
        return []  # the common case, decided without building an event
    event = _Event(key, definition, report.reported_at, ("precinct", report.precinct_id, str(report.seq)),
                   report.county_fips, report.precinct_id)
    return _unit_alerts(event, unit, previous, tally_votes)


def race_alerts(key: TallyKey, last: PrecinctReport, before: Standing, after: Standing,
                definition: RaceDefinition | None) -> list[Alert]:
    """Alerts about a race (lead, milestones, reach, what the trailer needs): its figures
    before and after one record, a poll or a batch being one observation (docs/CONTRACT.md). `last` is
    the race's last report the record applied: the alerts carry its time, and their ids name it."""
    if _race_quiet(before, after):
        return []
    event = _Event(key, definition, last.reported_at, ("precinct", last.precinct_id, str(last.seq)))
    lead = _lead_change(event, before, after)
    return ([lead] if lead is not None else []) + _standing_alerts(event, before, after)


def _unit_quiet(unit: StoredUnit, previous: StoredUnit | None, definition: RaceDefinition | None) -> bool:
    """No unit alert can come of this report: the conditions of `_unit_alerts`, cheaply."""
    if previous is not None and _any_decrease(previous.votes, unit.votes):
        return False
    if unit.registered_voters is not None and _over_registered(unit):
        return False
    return definition is None or _candidate_ids(definition).issuperset(unit.votes)


def _race_quiet(before: Standing, after: Standing) -> bool:
    """No race alert can come of this record: the conditions of `_lead_change` and
    `_standing_alerts`, each in its cheapest form."""
    if after.expected_votes is not None and not (after.marks == before.marks and after.trailer == before.trailer
                                                 and after.marks):
        return False
    return before.leader is None or after.leader is None or before.leader == after.leader


def expected_alerts(old: ExpectedVote | None, new: ExpectedVote, tallies: Iterable[RaceTally],
                    definition: RaceDefinition | None = None) -> list[Alert]:
    """Alerts raised by a new estimate, per tally of its race (live and test apart).

    With no tally yet, only `expected_vote_revised` for the live tally.
    """
    tallies = list(tallies) or [RaceTally(TallyKey(new.election_id, new.race_id, new.state, "live"))]
    alerts: list[Alert] = []
    for tally in tallies:
        event = _Event(tally.key, definition, new.issued_at, ("expected", str(new.seq)))
        before, after = standing(tally, definition, old), standing(tally, definition, new)
        alerts.append(_revised(event, old, new, before.expected_votes, after.expected_votes))
        alerts += _standing_alerts(event, before, after)
    return alerts


def alert_value(a: Alert) -> dict[str, Any]:
    """The `results-alerts` message; `county_fips` and `precinct_id` only when the alert has them."""
    value: dict[str, Any] = {
        "schema": ALERT_SCHEMA, "alert_id": a.alert_id, "type": a.type, "severity": a.severity,
        "election_id": a.election_id, "race_id": a.race_id, "state": a.state, "mode": a.mode,
    }
    if a.county_fips is not None:
        value["county_fips"] = a.county_fips
    if a.precinct_id is not None:
        value["precinct_id"] = a.precinct_id
    value.update({"message": a.message, "details": a.details, "at": a.at})
    return value


def _unit_alerts(event: _Event, unit: StoredUnit, previous: StoredUnit | None,
                 tally_votes: dict[str, int]) -> list[Alert]:
    alerts = []
    if previous is not None and _any_decrease(previous.votes, unit.votes):
        alerts.append(_count_decreased(event, previous, unit))
    if _over_registered(unit) and (previous is None or not _over_registered(previous)):
        alerts.append(_turnout_exceeds_registered(event, unit))
    if event.definition is not None and not _candidate_ids(event.definition).issuperset(unit.votes):
        known = _candidate_ids(event.definition)
        alerts += [_unknown_candidate(event, cid, n) for cid, n in sorted(unit.votes.items())
                   if n and cid not in known and not _votes_before(cid, unit, previous, tally_votes)]
    return alerts


def _votes_before(candidate_id: str, unit: StoredUnit, previous: StoredUnit | None, tally_votes: dict[str, int]) -> int:
    """The tally's votes for a candidate just before the report that stored `unit`: the report
    replaced `previous` by `unit`, so the difference is all it changed."""
    before = tally_votes.get(candidate_id, 0) - unit.votes.get(candidate_id, 0)
    return before + (previous.votes.get(candidate_id, 0) if previous is not None else 0)


def _marks(total: int, margin: int, expected: int | None, certified: bool,
           trailer: str | None) -> tuple[object, ...]:
    """Every yes/no a standing alert fires on, from the raw figures (one `standing` per report).

    Counts of thresholds passed stand for the yes/no of each: both kinds are monotone in the
    threshold, so equal counts mean equal answers at every threshold. The thresholds are whole
    percents, so "t% or more" is "t <= the floor of the exact percent", one `bisect` each. The
    `Standing` methods (`reached`, `needs_at_least`, ...) say the same thing slowly; a test holds
    the two together.
    """
    if expected is None:
        return ()
    milestones = bisect_right(MILESTONES, 100 * total // expected) if expected > 0 else len(MILESTONES)
    remaining = expected - total
    left = 0 if certified else (None if total > expected else remaining)  # figures.votes_outstanding
    needs, more = 0, False
    if trailer is not None and left:
        more = left < margin
        needs = 0 if more else bisect_right(NEEDS_THRESHOLDS, 100 * (left + margin) // (2 * left))
    return (milestones, total > expected, margin > remaining >= 0, needs, more)


def _standing_alerts(event: _Event, before: Standing, after: Standing) -> list[Alert]:
    """Alerts on figures of the whole tally that became true with this record."""
    if after.expected_votes is None:  # each needs an expected vote
        return []
    if after.marks == before.marks and after.trailer == before.trailer and after.marks:
        return []  # the common case, one comparison: nothing became true
    alerts = [_milestone(event, t, after) for t in MILESTONES if after.reached(t) and not before.reached(t)]
    if after.exceeds_expected and not before.exceeds_expected and after.expected_votes not in before.passed:
        alerts.append(_votes_exceed_expected(event, after))
    if _back_under_the_estimate(before, after):
        return alerts
    if after.out_of_reach and not before.out_of_reach:
        alerts.append(_out_of_reach(event, after))
    return alerts + _needs_alerts(event, before, after)


def _back_under_the_estimate(before: Standing, after: Standing) -> bool:
    """The count fell back under the estimate it had passed (a correction): the vote out was
    unknown a moment ago, so nothing about it "became" true; it was said when the count first came
    this close. Said again it is noise over a few votes ("needs 12518300.0% of the 2 expected votes
    still out", MN Senate, Dec 13). A revised estimate is new information, so not this case."""
    return before.exceeds_expected and not after.exceeds_expected and before.expected_votes == after.expected_votes


def _needs_alerts(event: _Event, before: Standing, after: Standing) -> list[Alert]:
    """What the trailing candidate needs, crossing upwards; a new trailer starts afresh."""
    same = before.trailer == after.trailer
    alerts = [_needs_share_crossed(event, t, after) for t in NEEDS_THRESHOLDS
              if after.needs_at_least(t) and not (same and before.needs_at_least(t))]
    # With no vote out (the count exactly on the estimate) the trailer could not catch up either:
    # `out_of_reach` says so where `needs_more_than_remaining` has no remainder to speak of.
    if after.needs_more_than_remaining and not (same and (before.needs_more_than_remaining or before.out_of_reach)):
        alerts.append(_needs_more_than_remaining(event, after))
    return alerts


# id(definition) -> (the definition, its candidate ids): built once per definition, not per
# record. The entry holds the definition, so its id cannot be reused while the entry lives; a
# replaced definition leaves one small entry behind (a race has a handful of revisions).
_known_ids: dict[int, tuple[RaceDefinition, frozenset[str]]] = {}


def _candidate_ids(definition: RaceDefinition) -> frozenset[str]:
    cached = _known_ids.get(id(definition))
    if cached is None:
        cached = _known_ids[id(definition)] = (definition, frozenset(c.candidate_id for c in definition.candidates))
    return cached[1]


def _any_decrease(old: dict[str, int], new: dict[str, int]) -> bool:
    # A loop, not any() over a generator: once per applied report, and a generator costs more
    # to start than a report's two or three counts cost to compare.
    for candidate_id, n in old.items():  # noqa: SIM110 - see above
        if n and new.get(candidate_id, 0) < n:
            return True
    return False


def _decreases(old: dict[str, int], new: dict[str, int]) -> dict[str, list[int]]:
    """Candidates whose count went down, `{candidate_id: [old, new]}` (a dropped one is 0 now)."""
    return {cid: [n, new.get(cid, 0)] for cid, n in sorted(old.items()) if new.get(cid, 0) < n}


def _over_registered(unit: StoredUnit) -> bool:
    return unit.registered_voters is not None and unit.total_votes > unit.registered_voters


def _unit_label(precinct_id: str | None, county_fips: str) -> str:
    """How a message names the unit, its county by name when known: a source without precincts
    reports whole counties."""
    county = county_names().get(county_fips) or f"county {county_fips}"
    if precinct_id == county_fips:
        return county[0].upper() + county[1:]
    return f"Precinct {precinct_id} ({county})"


def _count_decreased(event: _Event, previous: StoredUnit, unit: StoredUnit) -> Alert:
    old_total, new_total = previous.total_votes, unit.total_votes
    decreases = _decreases(previous.votes, unit.votes)
    if new_total < old_total:
        what = f"its total from {old_total:,} to {new_total:,} votes"
    else:
        cid, (old, new) = next(iter(decreases.items()))
        what = f"{event.name(cid)} from {old:,} to {new:,} votes"
    message = (f"{_unit_label(event.precinct_id, unit.county_fips)} lowered {what} in {event.place} "
               f"(report {previous.seq} to {unit.seq}); the tally follows it.")
    details: dict[str, object] = {"previous_seq": previous.seq, "seq": unit.seq, "previous_total": old_total,
                                  "total": new_total, "decreases": decreases}
    return event.alert("count_decreased", "warning", message, details, local=True)


def _turnout_exceeds_registered(event: _Event, unit: StoredUnit) -> Alert:
    message = (f"{_unit_label(event.precinct_id, unit.county_fips)} reports {unit.total_votes:,} votes "
               f"but has {unit.registered_voters:,} registered voters in {event.place}.")
    details: dict[str, object] = {"total": unit.total_votes, "registered_voters": unit.registered_voters}
    return event.alert("turnout_exceeds_registered", "critical", message, details, local=True)


def _unknown_candidate(event: _Event, candidate_id: str, votes: int) -> Alert:
    unit = _unit_label(event.precinct_id, event.county_fips or "")
    message = (f"{unit} reports {votes:,} votes for {candidate_id!r}, who is not a "
               f"candidate in the {event.place} race definition; the votes are counted.")
    return event.alert("unknown_candidate", "warning", message, {"candidate_id": candidate_id, "votes": votes},
                       candidate_id, local=True)


def _lead_change(event: _Event, before: Standing, after: Standing) -> Alert | None:
    # From one candidate to another; a tie in between has no leader and raises nothing. In a
    # vote-for-N race, the last seat changing hands: its holder dropped out of the N.
    if before.leader is None or after.leader is None or before.leader == after.leader:
        return None
    if event.seats > 1 and _holds_a_seat(after, before.leader):
        return None  # places changed among the seat holders: no seat did
    new_pct = share(after.votes[after.leader], after.total_votes)
    old_pct = share(after.votes.get(before.leader, 0), after.total_votes)
    seat = f" for the last of {event.seats} seats" if event.seats > 1 else ""
    message = (f"{event.name(after.leader)} overtook {event.name(before.leader)}{seat} in {event.place}: "
               f"{new_pct:.1f}% to {old_pct:.1f}%.")
    details: dict[str, object] = {"leader": after.leader, "previous_leader": before.leader,
                                  "leader_pct": new_pct, "previous_leader_pct": old_pct,
                                  "margin_votes": after.margin_votes, "total_votes": after.total_votes}
    return event.alert("lead_change", "info", message, details, after.leader)


def _holds_a_seat(after: Standing, candidate_id: str) -> bool:
    """Whether `candidate_id` places no lower than the last seat's holder (`after.leader`)."""
    assert after.leader is not None
    return (-after.votes.get(candidate_id, 0), candidate_id) <= (-after.votes[after.leader], after.leader)


def _milestone(event: _Event, threshold: int, after: Standing) -> Alert:
    message = f"{threshold}% of the expected vote is now counted in {event.place}."
    details: dict[str, object] = {"threshold": threshold, "total_votes": after.total_votes,
                                  "expected_votes": after.expected_votes, "pct_expected_counted": after.pct_counted}
    return event.alert("counted_milestone", "info", message, details, str(threshold))


def _votes_exceed_expected(event: _Event, after: Standing) -> Alert:
    message = (f"Counted votes ({after.total_votes:,}) now exceed the expected vote "
               f"({after.expected_votes or 0:,}) in {event.place}.")
    details: dict[str, object] = {"total_votes": after.total_votes, "expected_votes": after.expected_votes}
    # The id names the figure, not the report that passed it: said once per figure, and a worker
    # that rebuilt the tally (which forgets what was passed) and sees it passed again after a
    # correction repeats the id a consumer already has, which it drops.
    figure = event._replace(ident=("expected_votes", str(after.expected_votes)))
    return figure.alert("votes_exceed_expected", "warning", message, details)


def _out_of_reach(event: _Event, after: Standing) -> Alert:
    remaining = (after.expected_votes or 0) - after.total_votes
    seat = f" for the last of {event.seats} seats" if event.seats > 1 else ""
    message = (f"{event.name(after.leader)}'s lead{seat} of {after.margin_votes:,} votes is now larger than the "
               f"{remaining:,} votes still expected in {event.place}.")
    details: dict[str, object] = {"leader": after.leader, "margin_votes": after.margin_votes,
                                  "votes_remaining": remaining, "expected_votes": after.expected_votes}
    return event.alert("out_of_reach", "info", message, details)


def _needs_details(after: Standing) -> dict[str, object]:
    return {"trailer": after.trailer, "leader": after.leader, "needs_pct_of_remaining": after.needs_pct,
            "votes_outstanding": after.outstanding, "margin_votes": after.margin_votes,
            "expected_votes": after.expected_votes}


def _needs_share_crossed(event: _Event, threshold: int, after: Standing) -> Alert:
    message = (f"{event.name(after.trailer)} now needs {after.needs_pct:.1f}% of the {after.outstanding or 0:,} "
               f"expected votes still out to overtake {event.name(after.leader)} in {event.place}.")
    details = {"threshold": threshold, **_needs_details(after)}
    return event.alert("needs_share_crossed", "info", message, details, str(threshold), str(after.trailer))


def _needs_more_than_remaining(event: _Event, after: Standing) -> Alert:
    # No share in the words: above 100% it grows without meaning as the vote out shrinks (18000%
    # of 2 votes). A desk says the trailer cannot catch up; the figure stays in the details.
    leader, left = event.name(after.leader), after.outstanding or 0
    message = (f"{event.name(after.trailer)} cannot catch up with {leader} in {event.place}: {leader} leads by "
               f"{after.margin_votes:,} votes with {left:,} expected vote{'' if left == 1 else 's'} still out.")
    return event.alert("needs_more_than_remaining", "info", message, _needs_details(after), str(after.trailer))


def _revised(event: _Event, old: ExpectedVote | None, new: ExpectedVote, old_votes: int | None,
             new_votes: int | None) -> Alert:
    def fmt(n: int | None) -> str:
        return f"{n:,}" if n is not None else "unknown"

    verb = f"revised from {fmt(old_votes)} to" if old is not None else "set at"
    message = f"The expected vote in {event.place} was {verb} {fmt(new_votes)}."
    details: dict[str, object] = {"previous_expected_votes": old_votes, "expected_votes": new_votes,
                                  "previous_seq": old.seq if old is not None else None, "seq": new.seq}
    return event.alert("expected_vote_revised", "info", message, details)
