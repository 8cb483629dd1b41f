"""Hand-made `state-result/1`, `county-result/1` and `alert/1` messages.

The gateway only reads what the worker publishes; these build contract-shaped messages so the
gateway's tests, its benchmark and a board preview can run without a worker. Figures are
derived the way docs/CONTRACT.md says (shares of total to one decimal, counted figure floored).
"""

from __future__ import annotations

import math
from typing import Any

Votes = dict[str, int]
NAMES = {"harris": ("Kamala D. Harris", "DFL", "Harris"), "trump": ("Donald J. Trump", "REP", "Trump"),
         "oliver": ("Chase Oliver", "LIB", "Oliver")}


def candidates_of(votes: Votes, total: int) -> list[dict[str, Any]]:
    ranked = sorted(votes.items(), key=lambda cv: (-cv[1], cv[0]))
    return [{"candidate_id": cid, "name": NAMES.get(cid, (cid.title(), "IND", cid))[0],
             "party": NAMES.get(cid, (cid, "IND", cid))[1], "votes": v,
             "pct": round(100 * v / total, 1) if total else 0.0} for cid, v in ranked]


def readout_of(candidates: list[dict[str, Any]], pct_counted: float | None) -> str:
    shares = [f"{NAMES.get(c['candidate_id'], ('', '', c['name']))[2]} {c['pct']:.1f}%" for c in candidates[:2]]
    counted = f"{math.floor(pct_counted)}% of expected vote counted" if pct_counted is not None else "0% counted"
    return " · ".join([*shares, counted])


def state_result(state: str = "MN", version: int = 1, votes: Votes | None = None, *, mode: str = "live",
                 expected: int = 3_300_000, election: str = "2024-11-05", race: str = "president",
                 as_of: str = "2024-11-06T02:00:00Z") -> dict[str, Any]:
    votes = votes if votes is not None else {"harris": 1_000 * version, "trump": 900 * version, "oliver": 30}
    total = sum(votes.values())
    candidates = candidates_of(votes, total)
    pct_counted = min(99.0, round(100 * total / expected, 1))
    lead, second = candidates[0], candidates[1]
    margin = lead["votes"] - second["votes"]
    return {
        "schema": "state-result/1", "election_id": election, "race_id": race, "state": state, "mode": mode,
        "version": version, "as_of": as_of, "candidates": candidates, "total_votes": total,
        "leader": lead["candidate_id"] if margin else None, "margin_votes": margin,
        "margin_pct": round(100 * margin / total, 1) if total else 0.0, "expected_votes": expected,
        "pct_expected_counted": pct_counted, "votes_remaining": expected - total,
        "precincts_reporting": version, "precincts_total": 4_000,
        "pct_precincts_reporting": round(100 * version / 4_000, 1), "swing": None,
        "out_of_reach": margin > expected - total >= 0, "certified": False,
        "readout": readout_of(candidates, pct_counted),
    }


def county_result(county_fips: str, state: str = "MN", version: int = 1, *, mode: str = "live") -> dict[str, Any]:
    snapshot = state_result(state, version, {"harris": 100 * version, "trump": 90 * version}, mode=mode,
                            expected=50_000)
    return {**snapshot, "schema": "county-result/1", "county_fips": county_fips}


def alert(alert_id: str, state: str = "MN", *, mode: str = "live", at: str = "2024-11-06T02:00:00Z",
          kind: str = "lead_change", message: str | None = None) -> dict[str, Any]:
    return {"schema": "alert/1", "alert_id": alert_id, "type": kind, "severity": "info",
            "election_id": "2024-11-05", "race_id": "president", "state": state, "mode": mode,
            "message": message or f"Harris took the lead in {state}.", "details": {}, "at": at}
