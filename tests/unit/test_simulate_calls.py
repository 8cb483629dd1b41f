"""`votewire simulate --calls`: calls by AP and the desk, one retraction, a runoff where a majority
is needed, vote-for-2 county contests, and the final calls in the truth file; without the flag
nothing of it (and the rest of the night does not move)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from streams import contract
from tests.unit.test_simulate import lines, run


def calls_by_key(recs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for rec in recs:
        if rec["topic"] == "race-calls":
            out.setdefault(rec["key"], []).append(rec["value"])
    return out


def test_every_race_ends_with_the_call_its_truth_says(tmp_path: Path) -> None:
    night = tmp_path / "night.jsonl"
    truth = run(night, "--preset", "tiny-ga", "--seed", "11", "--calls")
    recs = lines(night)
    calls = calls_by_key(recs)
    assert set(calls) == set(truth["races"])  # keyed by race and mode, as the snapshots are
    for key, race in truth["races"].items():
        decoded = [contract.decode_race_call(orjson.dumps(v)) for v in calls[key]]
        assert [c.seq for c in decoded] == sorted({c.seq for c in decoded})  # each replaces the one before
        final = decoded[-1]
        assert {"status": final.status, "winners": list(final.winners), "by": final.by} == race["call"]
        assert decoded[0].status == "too_early"
        ranked = sorted(race["votes"], key=lambda c: (-race["votes"][c], c))
        if race["call"]["status"] == "called":
            assert race["call"]["winners"] == ranked[:race.get("seats", 1)]


def test_one_retraction_a_runoff_in_georgia_and_vote_for_two_counties(tmp_path: Path) -> None:
    night = tmp_path / "night.jsonl"
    truth = run(night, "--preset", "tiny-ga", "--seed", "11", "--calls")
    recs = lines(night)
    statuses = Counter(v["status"] for vs in calls_by_key(recs).values() for v in vs)
    assert statuses["retracted"] == 1
    [retracted] = [k for k, vs in calls_by_key(recs).items() if any(v["status"] == "retracted" for v in vs)]
    assert retracted == "2024-11-05/president/DE/live"  # the first state's president: called, retracted, called
    assert [v["status"] for v in calls_by_key(recs)[retracted]] == ["too_early", "called", "retracted", "called"]
    runoff = truth["races"]["2024-11-05/special-superintendent/GA/live"]
    assert runoff["call"]["status"] == "runoff"
    assert runoff["win_threshold"] == 50.0
    assert max(runoff["votes"].values()) * 2 < runoff["total_votes"]  # the leader under a majority
    commissions = [r for k, r in truth["races"].items() if "/commission-at-large-" in k]
    assert len(commissions) == 6
    assert all(len(r["call"]["winners"]) == r["seats"] == 2 for r in commissions)
    assert {r["call"]["by"] for r in truth["races"].values()} == {"AP", "Votewire Desk"}
    definitions = [contract.decode_race_definition(orjson.dumps(r["value"])) for r in recs
                   if r["topic"] == "race-definitions"]
    assert {(d.race_id, d.rules.seats, d.rules.win_threshold) for d in definitions if d.state == "GA"
            and not d.race_id.startswith("commission")} == {("president", 1, None),
                                                             ("special-superintendent", 1, 50.0)}


def test_calls_move_none_of_the_nights_other_draws(tmp_path: Path) -> None:
    plain, called = tmp_path / "plain.jsonl", tmp_path / "called.jsonl"
    run(plain, "--preset", "tiny", "--seed", "3")
    run(called, "--preset", "tiny", "--seed", "3", "--calls")

    def reports(path: Path) -> list[Any]:
        """Every report but the vote-for-2 commissions', in order (polls are packed around them)."""
        polls = [r["value"] for r in lines(path) if r["topic"] == "precinct-results"]
        return [(race["race_id"], report) for poll in polls for race in poll["races"]
                if not race["race_id"].startswith("commission") for report in race["reports"]]

    assert reports(called) == reports(plain)
    assert calls_by_key(lines(plain)) == {}
