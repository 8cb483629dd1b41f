"""What a snapshot says about a race beyond its counts: seats, the call, the count's status, a runoff.

Pure figures, like `streams.counting.figures`:
- **Seats** (vote for N): the top N are the `leaders`; the margin that decides the last seat is
  between the N-th candidate and the first one out (`seat_margin_votes`), and that first one out
  is the candidate who needs to catch up (`trailer`, and the needs figures). With one seat this
  is exactly the leader, the margin and the trailer of `figures.leader_and_trailer`.
- **Tabulation status**: the feed's word when the definition carries one, else derived from
  the count: `awaiting_votes` (nothing counted), `counting`, `counted` (every precinct in, and
  the expected vote, when there is one, reached), `certified` (the definition says so, whatever
  else it says).
- **A runoff**: with a `win_threshold`, a race whose leader has not passed it once the count is
  done (`counted` or `certified`) is headed to a runoff, and the readout says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from streams.contract import RaceCall, RaceDefinition
from streams.counting.figures import CandidateFigures, share

RUNOFF_READOUT = "headed to a runoff"
COUNT_DONE = frozenset({"counted", "certified"})


class SeatStanding(NamedTuple):
    leaders: list[str]  # the top N, most votes first (only candidates with votes)
    margin: int  # the N-th candidate's lead over the first one out; 0 on a tie for the last seat
    first_out: str | None  # the first candidate out of the N seats (None on a tie, or when all win)


def seat_standing(ranked: Sequence[CandidateFigures], seats: int, leader: str | None, margin: int,
                  trailer: str | None) -> SeatStanding:
    """The standing for the last of `seats` seats; `leader, margin, trailer` are the one-seat
    figures (`figures.leader_and_trailer`), which a one-seat race keeps as they are."""
    if seats == 1:
        return SeatStanding([leader] if leader is not None else [], margin, trailer)
    leaders = [r.candidate_id for r in ranked[:seats] if r.votes > 0]
    if len(ranked) <= seats:
        return SeatStanding(leaders, 0, None)  # every candidate wins a seat
    last, out = ranked[seats - 1], ranked[seats]
    if last.votes == out.votes:
        return SeatStanding(leaders, 0, None)  # a tie for the last seat: nobody leads for it
    return SeatStanding(leaders, last.votes - out.votes, out.candidate_id)


def tabulation_status(definition: RaceDefinition, total_votes: int, precincts_reporting: int,
                      precincts_total: int | None, expected_votes: int | None) -> str:
    """`counted` needs every precinct in and, with an estimate, the count at it: a precinct marked
    complete may still count late ballots (a mail wave), and its race is not done while it does."""
    if definition.certified:
        return "certified"
    if definition.rules.tabulation_status is not None:
        return definition.rules.tabulation_status
    if total_votes == 0 and precincts_reporting == 0:
        return "awaiting_votes"
    all_in = bool(precincts_total) and precincts_reporting >= (precincts_total or 0)
    if all_in and (expected_votes is None or total_votes >= expected_votes):
        return "counted"
    return "counting"


def headed_to_runoff(top_votes: int, total_votes: int, definition: RaceDefinition, status: str) -> bool:
    """The count is done and its leader (`top_votes`) has not passed the race's threshold."""
    threshold = definition.rules.win_threshold
    if threshold is None or status not in COUNT_DONE or total_votes == 0:
        return False
    return 100 * top_votes <= threshold * total_votes


def seat_fields(standing: SeatStanding, seats: int, total_votes: int) -> dict[str, Any]:
    """The snapshot's seat fields (state and county alike)."""
    return {"seats": seats, "leaders": standing.leaders, "seat_margin_votes": standing.margin,
            "seat_margin_pct": share(standing.margin, total_votes)}


def race_status_fields(definition: RaceDefinition, call: RaceCall | None, status: str) -> dict[str, Any]:
    """The state snapshot's status fields: the call in force or not (null without one), how the
    race is won, and the count's status."""
    rules = definition.rules
    return {"call": call.as_wire() if call is not None else None, "tabulation_status": status,
            "win_threshold": rules.win_threshold, "uncontested": rules.uncontested}
