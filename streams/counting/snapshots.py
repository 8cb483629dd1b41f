"""The snapshot messages, assembled over a `RaceTally` from the number rules of `figures`.

`state_snapshot` and `county_snapshot` are the `state-results` and `county-results` messages
(docs/CONTRACT.md, "Output messages"); `counties_outstanding` is the state snapshot's list of where the vote
is left. Every figure in them comes from `streams.counting.figures`, which knows nothing of a tally.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from typing import Any

from streams.contract import ExpectedVote, RaceCall, RaceDefinition
from streams.counting.figures import (
    leader_and_trailer,
    needs_pct_of_remaining,
    needs_readout,
    out_of_reach,
    pct_expected_counted,
    ranked_candidates,
    readout,
    share,
    shares_by_party,
    snapshot_version,
    swing,
    votes_outstanding,
)
from streams.counting.projection import ModelRun, model_expected, model_fields, projected_share
from streams.counting.race_status import (
    RUNOFF_READOUT,
    headed_to_runoff,
    race_status_fields,
    seat_fields,
    seat_standing,
    tabulation_status,
)
from streams.counting.tally import RaceTally

# How many counties `counties_outstanding` lists: a results desk's "where the vote is left".
TOP_COUNTIES_OUTSTANDING = 10


STATE_SCHEMA = "state-result/1"


COUNTY_SCHEMA = "county-result/1"


def counties_outstanding(tally: RaceTally, definition: RaceDefinition, expected: ExpectedVote | None,
                         limit: int = TOP_COUNTIES_OUTSTANDING, model: ModelRun | None = None) -> list[dict[str, Any]]:
    """The counties with the most expected vote still out, most first (ties by FIPS), each with
    its leader and margin so far. O(counties with an estimate): built with the state snapshot,
    at most once per publish interval, never per report.

    Only counties with their own expected vote, including those with nothing counted yet; a
    county past its estimate has no known remainder and is left out. Empty once certified.
    The published county estimates when there are any, else the model's (`expected_vote_source`).
    """
    if definition.certified:
        return []
    out: list[tuple[int, str]] = []
    source = "published"
    if expected is not None and expected.county_expected:
        for fips, county_expected in expected.county_expected.items():
            county = tally.counties.get(fips)
            left = county_expected - (county.total_votes if county is not None else 0)
            if left > 0:
                out.append((-left, fips))
    elif model is not None and model.county_out:
        source = "model"
        out = [(-left, fips) for fips, left in model.county_out.items()]
    return [_county_outstanding(tally, fips, -minus_left, definition, source)
            for minus_left, fips in heapq.nsmallest(limit, out)]


def _county_outstanding(tally: RaceTally, fips: str, left: int, definition: RaceDefinition,
                        source: str) -> dict[str, Any]:
    county = tally.counties.get(fips)
    votes = county.votes if county is not None else {}
    ranked = ranked_candidates(votes, definition)
    total = sum(r.votes for r in ranked)
    leader, margin, _ = leader_and_trailer(votes, [c.candidate_id for c in definition.candidates])
    return {"county_fips": fips, "votes_outstanding": left, "expected_votes": total + left,
            "total_votes": total, "pct_expected_counted": pct_expected_counted(total, total + left, False),
            "leader": leader, "margin_votes": margin, "margin_pct": share(margin, total),
            "expected_vote_source": source}


def state_snapshot(tally: RaceTally, definition: RaceDefinition, expected: ExpectedVote | None,
                   model: ModelRun | None = None, call: RaceCall | None = None) -> dict[str, Any]:
    """The `state-results` message (docs/CONTRACT.md, "Output messages") for one tally, with the model's
    figures (streams.counting.projection) when it ran, and its race's call (streams.counting.calls)
    and status (streams.counting.race_status)."""
    expected_votes = tally.expected_votes(expected)
    baseline_seq = model.baseline.seq if model is not None and model.baseline is not None else None
    version = snapshot_version(tally.seq_sum, expected, definition, baseline_seq,
                               call.revision if call is not None else 0)
    doc = _head(tally, definition, STATE_SCHEMA, version)
    doc.update(_counts(tally.votes, definition, expected_votes, tally.precincts_reporting, definition.precincts_total,
                       model_expected(model)))
    for candidate in doc["candidates"]:
        candidate.update(projected_share(model, candidate["candidate_id"]))
    doc["swing"] = swing(shares_by_party(tally.votes, definition), definition.previous)
    doc["counties_outstanding"] = counties_outstanding(tally, definition, expected, model=model)
    doc.update(model_fields(model))
    _add_race_status(doc, tally, definition, expected_votes, call)
    return doc


def _add_race_status(doc: dict[str, Any], tally: RaceTally, definition: RaceDefinition, expected_votes: int | None,
                     call: RaceCall | None) -> None:
    """The call, the tabulation status and the seats; a race headed to a runoff says so in its readout."""
    status = tabulation_status(definition, tally.total_votes, tally.precincts_reporting, definition.precincts_total,
                               expected_votes)
    doc.update(race_status_fields(definition, call, status))
    if headed_to_runoff(max(tally.votes.values(), default=0), tally.total_votes, definition, status):
        doc["readout"] += f" · {RUNOFF_READOUT}"


def county_snapshot(
    tally: RaceTally, county_fips: str, definition: RaceDefinition, expected: ExpectedVote | None
) -> dict[str, Any]:
    """The `county-results` message: the county's own units and its own expected vote. Its
    version counts the units that moved away too (`CountyTally.version_seq_sum`), so the
    correction of a county a unit left is newer than the snapshot it corrects.

    `swing` is null: the previous results are statewide shares, and a county's share against
    the state's would be a false comparison.
    """
    county = tally.counties[county_fips]
    county_expected = expected.county_expected.get(county_fips) if expected is not None else None
    doc = _head(tally, definition, COUNTY_SCHEMA, snapshot_version(county.version_seq_sum, expected, definition))
    doc["county_fips"] = county_fips
    # A county whose every unit moved away has no report of its own: its (empty) figures are as
    # of the race's latest report.
    doc["as_of"] = county.as_of if county.as_of is not None else tally.as_of
    doc.update(_counts(county.votes, definition, county_expected, county.precincts_reporting, county.precincts_total))
    doc["swing"] = None
    return doc


def _head(tally: RaceTally, definition: RaceDefinition, schema: str, version: int) -> dict[str, Any]:
    key = tally.key
    return {"schema": schema, "election_id": key.election_id, "race_id": key.race_id, "state": key.state,
            "mode": key.mode, "version": version, "as_of": tally.as_of, "office": definition.office}


def _counts(votes: Mapping[str, int], definition: RaceDefinition, expected_votes: int | None,
            precincts_reporting: int, precincts_total: int | None, model_expected: int | None = None) -> dict[str, Any]:
    """The figures of a state or a county. Percent counted is of the published expected vote, else
    of the model's estimate (`model_expected`, a state's only), which the readout then says."""
    ranked = ranked_candidates(votes, definition)
    total = sum(r.votes for r in ranked)
    leader, margin, trailer = leader_and_trailer(votes, [c.candidate_id for c in definition.candidates])
    source = "published" if expected_votes is not None else "model" if model_expected is not None else None
    counted = pct_expected_counted(total, expected_votes if expected_votes is not None else model_expected,
                                   definition.certified)
    # Out of reach and the needs line are about the last seat: with one seat, the leader's.
    seat = seat_standing(ranked, definition.rules.seats, leader, margin, trailer)
    remaining = expected_votes - total if expected_votes is not None else None
    pct_precincts = share(precincts_reporting, precincts_total) if precincts_total else None
    outstanding = votes_outstanding(total, expected_votes, definition.certified)
    return {
        "candidates": [r.as_wire() for r in ranked], "total_votes": total, "leader": leader,
        "margin_votes": margin, "margin_pct": share(margin, total), "expected_votes": expected_votes,
        "pct_expected_counted": counted, "votes_remaining": remaining,
        "precincts_reporting": precincts_reporting, "precincts_total": precincts_total,
        "pct_precincts_reporting": pct_precincts, "out_of_reach": out_of_reach(seat.margin, remaining),
        "certified": definition.certified, "readout": readout(ranked, counted, pct_precincts, source == "model"),
        "expected_vote_source": source,
        "votes_outstanding": outstanding, "trailer": seat.first_out,
        "needs_pct_of_remaining": needs_pct_of_remaining(seat.margin, outstanding, seat.first_out),
        "needs_readout": needs_readout(ranked, seat.first_out, seat.margin, expected_votes, definition.certified),
        **seat_fields(seat, definition.rules.seats, total),
    }
