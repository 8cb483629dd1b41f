"""A simulated night (with duplicates, out-of-order deliveries, corrections and malformed
records) replayed through the worker ends with `state-results` equal to the simulator's own
ground truth for every race and state, and exactly its malformed records as dead letters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from streams.replay import replay_files
from streams.settings import Settings
from tests.integration.harness import latest_by_key, read_topic, run, running_worker, wait_for


def figures(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {"total_votes": snapshot["total_votes"], "precincts_reporting": snapshot["precincts_reporting"],
            "votes": {c["candidate_id"]: c["votes"] for c in snapshot["candidates"] if c["votes"]}}


def expected(truth: dict[str, Any]) -> dict[str, Any]:
    return {"total_votes": truth["total_votes"], "precincts_reporting": truth["precincts_reporting"],
            "votes": {c: n for c, n in truth["votes"].items() if n}}


def test_simulated_night_ends_at_its_truth(settings: Settings, tmp_path: Path) -> None:
    night = tmp_path / "night.jsonl.gz"
    subprocess.run([sys.executable, "-m", "streams.cli", "simulate", "--preset", "tiny", "--seed", "11",
                    "--malformed", "0.01", "--out", str(night)], check=True, timeout=300)
    truth = orjson.loads(Path(f"{night}.truth.json").read_bytes())
    want = {key: expected(t) for key, t in truth["races"].items()}
    assert len(want) >= 3, "the tiny preset should hold several race/states"

    def reached() -> bool:
        got = latest_by_key(run(read_topic(settings, "state-results")))
        return all(k in got and figures(got[k]) == w for k, w in want.items())

    with running_worker(settings, tmp_path / "worker.log") as worker:
        run(replay_files(settings, [night], speed=None, max_gap=None, progress=False), 300)
        wait_for(reached, 300, what="state-results equal to the simulator's truth", alive=worker)
        dead = wait_for(lambda: _at_least(run(read_topic(settings, "dead-letters")), truth["malformed_records"]), 60,
                        what="the malformed records as dead letters")
    assert len(dead) == truth["malformed_records"]


def _at_least(records: list[Any], count: int) -> list[Any] | None:
    return records if len(records) >= count else None
