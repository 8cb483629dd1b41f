"""Everything that decides a printed number, as pure functions over counts and the race book
(the snapshots that print them are assembled in `streams.counting.snapshots`).

Rounding: every one-decimal figure (candidate `pct`, `margin_pct`, percent of expected vote
counted, percent of precincts reporting, swing) is rounded half away from zero, computed
exactly (integers for shares, decimals for swing) rather than with Python's `round`, whose
binary floats and ties-to-even make 12.25 and 12.35 go different ways. The readout's counted
figure is then floored to a whole percent (a newsroom never says more was counted than was).

Where the vote is left (`votes_outstanding`, `needs_pct_of_remaining`, `needs_readout`, and
`counties_outstanding` in streams.counting.snapshots): an expected vote is an estimate, so these
never present a negative remainder as fact. When the count passes the estimate (the estimate was low), the vote still
out is unknown: `votes_outstanding` and `needs_pct_of_remaining` are null and `needs_readout`
says the estimate was passed; `votes_remaining` keeps the negative difference, as the contract
says. A certified race has nothing outstanding (0) and needs nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from streams.contract import ExpectedVote, PreviousResult, RaceDefinition

# The AP convention: never say all of the expected vote is counted before certification.
UNCERTIFIED_CAP = 99.0
_TENTH = Decimal("0.1")


def share(part: int, total: int) -> float:
    """`100 * part / total` to one decimal, half away from zero; 0.0 when total is 0."""
    if total == 0:
        return 0.0
    sign = -1 if (part < 0) != (total < 0) else 1
    part, total = abs(part), abs(total)
    tenths = (2000 * part + total) // (2 * total)  # floor(1000 * part / total + 1/2), exactly
    return sign * tenths / 10


def expected_vote_for(expected: ExpectedVote | None, counties_reported: Iterable[str]) -> int | None:
    """The statewide expected vote; else the county estimates' sum when they cover every county
    that has reported (a partial sum would overstate the percent counted); else None."""
    if expected is None:
        return None
    if expected.expected_votes is not None:
        return expected.expected_votes
    by_county = expected.county_expected
    if not by_county or any(fips not in by_county for fips in counties_reported):
        return None
    return sum(by_county.values())


def pct_expected_counted(total: int, expected: int | None, certified: bool) -> float | None:
    """Percent of the expected vote counted, one decimal, capped at 99.0 until certified."""
    if not expected:
        return None
    pct = share(total, expected)
    return pct if certified else min(pct, UNCERTIFIED_CAP)


def out_of_reach(margin_votes: int, votes_remaining: int | None) -> bool:
    """The leader's margin is larger than all the vote still expected."""
    return votes_remaining is not None and margin_votes > votes_remaining >= 0


@dataclass(frozen=True, slots=True)
class CandidateFigures:
    candidate_id: str
    name: str
    party: str
    votes: int
    pct: float
    display: str  # the name a readout uses
    incumbent: bool = False

    def as_wire(self) -> dict[str, Any]:
        wire = {"candidate_id": self.candidate_id, "name": self.name, "party": self.party,
                "votes": self.votes, "pct": self.pct}
        return {**wire, "incumbent": True} if self.incumbent else wire


def ranked_candidates(votes: Mapping[str, int], definition: RaceDefinition) -> list[CandidateFigures]:
    """The definition's candidates (0 votes included) and any others the reports name, by votes.

    A candidate the definition lacks is still counted (the reports are the truth) and shown
    under its id, with no party.
    """
    total = sum(votes.values())
    known = {c.candidate_id for c in definition.candidates}
    rows = [CandidateFigures(c.candidate_id, c.name, c.party, votes.get(c.candidate_id, 0),
                             share(votes.get(c.candidate_id, 0), total), c.display, c.incumbent)
            for c in definition.candidates]
    rows += [CandidateFigures(cid, cid, "", n, share(n, total), cid) for cid, n in votes.items() if cid not in known]
    rows.sort(key=lambda r: (-r.votes, r.candidate_id))
    return rows


def leader_and_trailer(votes: Mapping[str, int], candidate_ids: Iterable[str]) -> tuple[str | None, int, str | None]:
    """The leading candidate (None on a tie for first or with no votes), the lead in votes, and
    the candidate in second place behind a leader (None without a leader).

    The places are those of `ranked_candidates`: by votes, ties by candidate_id, among
    `candidate_ids` (the definition's, 0 votes included) and any other candidate the reports
    name. O(candidates), no sort: alerts take a standing twice per record.
    """
    # Places go by votes, then candidate_id: (n, cid) beats (m, other) when n > m, or n == m
    # and cid < other. -1: no candidate in that place yet.
    top, top_id, runner, runner_id = -1, "", -1, ""
    for candidate_id, n in votes.items():
        if n > top or (n == top and candidate_id < top_id):
            runner, runner_id, top, top_id = top, top_id, n, candidate_id
        elif n > runner or (n == runner and candidate_id < runner_id):
            runner, runner_id = n, candidate_id
    for candidate_id in candidate_ids:
        if candidate_id in votes:
            continue
        if top < 0 or (top == 0 and candidate_id < top_id):
            runner, runner_id, top, top_id = top, top_id, 0, candidate_id
        elif runner < 0 or (runner == 0 and candidate_id < runner_id):
            runner, runner_id = 0, candidate_id
    if top <= 0 or top == runner:
        return None, 0, None
    return top_id, top - max(runner, 0), runner_id if runner >= 0 else None


def last_seat(votes: Mapping[str, int], candidate_ids: Iterable[str], seats: int) -> tuple[str | None, int, str | None]:
    """`leader_and_trailer` for the last of `seats` seats (vote for N): the candidate holding it
    (None on a tie for it, or when every candidate wins one), its lead over the first one out,
    and that first one out. The places of `ranked_candidates`; a sort, as multi-seat races are few."""
    places = sorted([(-n, cid) for cid, n in votes.items()] + [(0, cid) for cid in candidate_ids if cid not in votes])
    if len(places) <= seats or places[seats - 1][0] == places[seats][0]:
        return None, 0, None
    (last, holder), (out, first_out) = places[seats - 1], places[seats]
    return holder, out - last, first_out


def votes_outstanding(total: int, expected: int | None, certified: bool) -> int | None:
    """The expected vote still out, as a newsroom may print it: never negative.

    0 once certified (the count is final); None without an expected vote, or when the count
    has passed the estimate (the estimate was low, so what is left is not known).
    """
    if certified:
        return 0
    if expected is None or total > expected:
        return None
    return expected - total


def needs_pct_of_remaining(margin_votes: int, outstanding: int | None, trailer: str | None) -> float | None:
    """The share of the outstanding expected vote the trailer must win to draw level, if the
    leader takes all the rest: `100 * (outstanding + margin) / (2 * outstanding)`, one decimal.

    Above 100 the lead is out of reach (exactly when `margin > outstanding`). None without a
    trailer or with nothing outstanding (no estimate, the estimate passed, or certified).
    """
    if trailer is None or not outstanding:
        return None
    return share(outstanding + margin_votes, 2 * outstanding)


def needs_readout(ranked: Sequence[CandidateFigures], trailer: str | None, margin_votes: int,
                  expected: int | None, certified: bool) -> str | None:
    """The second readout line: `Trump needs 61.2% of the remaining 1,204,000 expected votes`.

    Past the estimate it says so instead; out of reach it says that. None when there is
    nothing to say: no expected vote, certified, or no trailer (a tie for first, no votes).
    """
    total = sum(r.votes for r in ranked)
    if certified or expected is None:
        return None
    if total > expected:
        return f"Counted votes exceed the expected vote by {total - expected:,}: the vote still out is not known"
    name = next((r.display for r in ranked if r.candidate_id == trailer), None)
    if name is None:
        return None
    outstanding = expected - total
    if outstanding == 0:
        return f"{name} trails by {margin_votes:,} votes with no expected vote left: out of reach"
    needs = needs_pct_of_remaining(margin_votes, outstanding, trailer)
    remaining = f"the remaining {outstanding:,} expected votes"
    if margin_votes <= outstanding:
        return f"{name} needs {needs:.1f}% of {remaining}"
    if needs == 100.0:  # above 100 by less than a rounding step: don't print "would need 100.0%"
        return f"{name} would need more than all of {remaining}: out of reach"
    return f"{name} would need {needs:.1f}% of {remaining}: out of reach"



def readout(ranked: Sequence[CandidateFigures], pct_counted: float | None, pct_precincts: float | None,
            estimated: bool = False) -> str:
    """`Harris 58.9% · Trump 38.1% · 76% of expected vote counted`: up to two leaders, then
    how much is in (expected vote if known, else precincts), floored to a whole percent. An
    expected vote that is the model's estimate says so: `about 76% of expected vote counted (est.)`."""
    if sum(r.votes for r in ranked) == 0:
        parts = ["No votes counted yet"]
    else:
        parts = [f"{r.display} {r.pct:.1f}%" for r in ranked[:2] if r.votes > 0]
    if pct_counted is not None and estimated:
        parts.append(f"about {math.floor(pct_counted)}% of expected vote counted (est.)")
    elif pct_counted is not None:
        parts.append(f"{math.floor(pct_counted)}% of expected vote counted")
    elif pct_precincts is not None:
        parts.append(f"{math.floor(pct_precincts)}% of precincts reporting")
    return " · ".join(parts)


def shares_by_party(votes: Mapping[str, int], definition: RaceDefinition) -> dict[str, float]:
    """Each party's unrounded percent of all votes (candidates without a party are left out)."""
    total = sum(votes.values())
    by_party: dict[str, int] = {}
    for c in definition.candidates:
        if c.party:
            by_party[c.party] = by_party.get(c.party, 0) + votes.get(c.candidate_id, 0)
    return {party: 100 * n / total for party, n in by_party.items()} if total else {}


def swing(shares_by_party: Mapping[str, float], previous: Sequence[PreviousResult]) -> dict[str, float] | None:
    """Points gained (+) or lost (-) by each party since the latest previous election, one decimal.

    Only parties in both; None when there is nothing to compare. Shares are taken at their
    decimal value (`repr`) so 52.40 minus 50.95 is 1.45 exactly and rounds to 1.5.
    """
    if not previous or not shares_by_party:
        return None
    latest = max(previous, key=lambda p: p.election_id)  # ISO dates sort as strings
    points = {party: _round_tenth(Decimal(repr(now)) - Decimal(repr(latest.shares[party])))
              for party, now in shares_by_party.items() if party in latest.shares}
    return points or None


def _round_tenth(x: Decimal) -> float:
    return float(x.quantize(_TENTH, rounding=ROUND_HALF_UP))  # HALF_UP is away from zero


def snapshot_version(seq_sum: int, expected: ExpectedVote | None, definition: RaceDefinition,
                     baseline_seq: int | None = None, call_revision: int = 0) -> int:
    """Derived from state only, so it never goes down and survives a restart unchanged.

    Every applied report raises `seq_sum` (each unit counts seq + 1), a newer estimate has a
    higher seq (+1 so the first estimate counts), a changed definition a higher revision, a newer
    baseline (the model's, streams.counting.projection) a higher seq (+1 likewise), a newer race
    call (state snapshots only: they carry it) a higher offset in its topic.
    """
    baseline = baseline_seq + 1 if baseline_seq is not None else 0
    return (seq_sum + (expected.seq + 1 if expected is not None else 0) + definition.revision + baseline
            + call_revision)


def embargoed(embargo_ms: int | None, definition: RaceDefinition | None) -> bool:
    """Design rule 7: nothing is released before polls close, by the tally's `embargo_ms` (its
    source time, and for a live race Kafka's time of its records too)."""
    return definition is None or embargo_ms is None or embargo_ms < definition.polls_close_ms
