"""Everything that decides a printed number, as pure functions over a `RaceTally`.

Rounding: every one-decimal figure (candidate `pct`, `margin_pct`, percent of expected vote
counted, percent of precincts reporting, swing) is rounded half away from zero, computed
exactly (integers for shares, decimals for swing) rather than with Python's `round`, whose
binary floats and ties-to-even make 12.25 and 12.35 go different ways. The readout's counted
figure is then floored to a whole percent (a newsroom never says more was counted than was).

Where the vote is left (`votes_outstanding`, `needs_pct_of_remaining`, `needs_readout`,
`counties_outstanding`): an expected vote is an estimate, so these never present a negative
remainder as fact. When the count passes the estimate (the estimate was low), the vote still
out is unknown: `votes_outstanding` and `needs_pct_of_remaining` are null and `needs_readout`
says the estimate was passed; `votes_remaining` keeps the negative difference, as the contract
says. A certified race has nothing outstanding (0) and needs nothing.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from streams.contract import ExpectedVote, PreviousResult, RaceDefinition

if TYPE_CHECKING:
    from streams.tally import RaceTally

# The AP convention: never say all of the expected vote is counted before certification.
UNCERTIFIED_CAP = 99.0
# How many counties `counties_outstanding` lists: a results desk's "where the vote is left".
TOP_COUNTIES_OUTSTANDING = 10
STATE_SCHEMA = "state-result/1"
COUNTY_SCHEMA = "county-result/1"
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

    def as_wire(self) -> dict[str, Any]:
        return {"candidate_id": self.candidate_id, "name": self.name, "party": self.party,
                "votes": self.votes, "pct": self.pct}


def ranked_candidates(votes: Mapping[str, int], definition: RaceDefinition) -> list[CandidateFigures]:
    """The definition's candidates (0 votes included) and any others the reports name, by votes.

    A candidate the definition lacks is still counted (the reports are the truth) and shown
    under its id, with no party.
    """
    total = sum(votes.values())
    known = {c.candidate_id for c in definition.candidates}
    rows = [CandidateFigures(c.candidate_id, c.name, c.party, votes.get(c.candidate_id, 0),
                             share(votes.get(c.candidate_id, 0), total), c.display)
            for c in definition.candidates]
    rows += [CandidateFigures(cid, cid, "", n, share(n, total), cid) for cid, n in votes.items() if cid not in known]
    rows.sort(key=lambda r: (-r.votes, r.candidate_id))
    return rows


def leader_and_margin(ranked: Sequence[CandidateFigures]) -> tuple[str | None, int]:
    """The leading candidate (None on a tie or with no votes) and the lead in votes."""
    if not ranked or ranked[0].votes == 0:
        return None, 0
    second = ranked[1].votes if len(ranked) > 1 else 0
    return (ranked[0].candidate_id if ranked[0].votes > second else None), ranked[0].votes - second


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


def trailer_of(ranked: Sequence[CandidateFigures], leader: str | None) -> str | None:
    """The candidate in second place behind a leader (ties for second go by candidate_id, as
    in `candidates`); None without a leader (a tie for first, or no votes)."""
    if leader is None or len(ranked) < 2:
        return None
    return ranked[1].candidate_id


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


def counties_outstanding(tally: RaceTally, definition: RaceDefinition, expected: ExpectedVote | None,
                         limit: int = TOP_COUNTIES_OUTSTANDING) -> list[dict[str, Any]]:
    """The counties with the most expected vote still out, most first (ties by FIPS), each with
    its leader and margin so far. O(counties with an estimate): built with the state snapshot,
    at most once per publish interval, never per report.

    Only counties with their own expected vote, including those with nothing counted yet; a
    county past its estimate has no known remainder and is left out. Empty once certified.
    """
    if expected is None or definition.certified:
        return []
    out: list[tuple[int, str]] = []
    for fips, county_expected in expected.county_expected.items():
        county = tally.counties.get(fips)
        left = county_expected - (county.total_votes if county is not None else 0)
        if left > 0:
            out.append((-left, fips))
    return [_county_outstanding(tally, fips, expected.county_expected[fips], definition)
            for _, fips in heapq.nsmallest(limit, out)]


def _county_outstanding(tally: RaceTally, fips: str, county_expected: int,
                        definition: RaceDefinition) -> dict[str, Any]:
    county = tally.counties.get(fips)
    ranked = ranked_candidates(county.votes if county is not None else {}, definition)
    total = sum(r.votes for r in ranked)
    leader, margin = leader_and_margin(ranked)
    return {"county_fips": fips, "votes_outstanding": county_expected - total, "expected_votes": county_expected,
            "total_votes": total, "pct_expected_counted": pct_expected_counted(total, county_expected, False),
            "leader": leader, "margin_votes": margin, "margin_pct": share(margin, total)}


def readout(ranked: Sequence[CandidateFigures], pct_counted: float | None, pct_precincts: float | None) -> str:
    """`Harris 58.9% · Trump 38.1% · 76% of expected vote counted`: up to two leaders, then
    how much is in (expected vote if known, else precincts), floored to a whole percent."""
    if sum(r.votes for r in ranked) == 0:
        parts = ["No votes counted yet"]
    else:
        parts = [f"{r.display} {r.pct:.1f}%" for r in ranked[:2] if r.votes > 0]
    if pct_counted is not None:
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


def snapshot_version(seq_sum: int, expected: ExpectedVote | None, definition: RaceDefinition) -> int:
    """Derived from state only, so it never goes down and survives a restart unchanged.

    Every applied report raises `seq_sum` (each unit counts seq + 1), a newer estimate has a
    higher seq (+1 so the first estimate counts), a changed definition a higher revision.
    """
    return seq_sum + (expected.seq + 1 if expected is not None else 0) + definition.revision


def embargoed(tally_as_of_ms: int | None, definition: RaceDefinition | None) -> bool:
    """Design rule 7: nothing is released before polls close, by source time."""
    return definition is None or tally_as_of_ms is None or tally_as_of_ms < definition.polls_close_ms


def state_snapshot(tally: RaceTally, definition: RaceDefinition, expected: ExpectedVote | None) -> dict[str, Any]:
    """The `state-results` message (docs/CONTRACT.md, "Output messages") for one tally."""
    expected_votes = tally.expected_votes(expected)
    doc = _head(tally, definition, STATE_SCHEMA, snapshot_version(tally.seq_sum, expected, definition))
    doc.update(_counts(tally.votes, definition, expected_votes, tally.precincts_reporting, definition.precincts_total))
    doc["swing"] = swing(shares_by_party(tally.votes, definition), definition.previous)
    doc["counties_outstanding"] = counties_outstanding(tally, definition, expected)
    return doc


def county_snapshot(
    tally: RaceTally, county_fips: str, definition: RaceDefinition, expected: ExpectedVote | None
) -> dict[str, Any]:
    """The `county-results` message: the county's own units and its own expected vote.

    `swing` is null: the previous results are statewide shares, and a county's share against
    the state's would be a false comparison.
    """
    county = tally.counties[county_fips]
    county_expected = expected.county_expected.get(county_fips) if expected is not None else None
    doc = _head(tally, definition, COUNTY_SCHEMA, snapshot_version(county.seq_sum, expected, definition))
    doc["county_fips"] = county_fips
    doc["as_of"] = county.as_of
    doc.update(_counts(county.votes, definition, county_expected, county.precincts_reporting, county.precincts_total))
    doc["swing"] = None
    return doc


def _head(tally: RaceTally, definition: RaceDefinition, schema: str, version: int) -> dict[str, Any]:
    key = tally.key
    return {"schema": schema, "election_id": key.election_id, "race_id": key.race_id, "state": key.state,
            "mode": key.mode, "version": version, "as_of": tally.as_of, "office": definition.office}


def _counts(votes: Mapping[str, int], definition: RaceDefinition, expected_votes: int | None,
            precincts_reporting: int, precincts_total: int | None) -> dict[str, Any]:
    ranked = ranked_candidates(votes, definition)
    total = sum(r.votes for r in ranked)
    leader, margin = leader_and_margin(ranked)
    counted = pct_expected_counted(total, expected_votes, definition.certified)
    remaining = expected_votes - total if expected_votes is not None else None
    pct_precincts = share(precincts_reporting, precincts_total) if precincts_total else None
    outstanding = votes_outstanding(total, expected_votes, definition.certified)
    trailer = trailer_of(ranked, leader)
    return {
        "candidates": [r.as_wire() for r in ranked], "total_votes": total, "leader": leader,
        "margin_votes": margin, "margin_pct": share(margin, total), "expected_votes": expected_votes,
        "pct_expected_counted": counted, "votes_remaining": remaining,
        "precincts_reporting": precincts_reporting, "precincts_total": precincts_total,
        "pct_precincts_reporting": pct_precincts, "out_of_reach": out_of_reach(margin, remaining),
        "certified": definition.certified, "readout": readout(ranked, counted, pct_precincts),
        "votes_outstanding": outstanding, "trailer": trailer,
        "needs_pct_of_remaining": needs_pct_of_remaining(margin, outstanding, trailer),
        "needs_readout": needs_readout(ranked, trailer, margin, expected_votes, definition.certified),
    }
