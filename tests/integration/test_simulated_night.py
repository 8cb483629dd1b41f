"""A simulated night (with duplicates, out-of-order deliveries, corrections and malformed
records) replayed through the worker ends with `state-results` equal to the simulator's own
ground truth for every race and state, and exactly its malformed records as dead letters."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from streams.kafka.replay import replay_files
from streams.kafka.topics import home_partition
from streams.localkafka import kafka_local
from streams.settings import Settings
from tests.integration.harness import latest_by_key, read_topic, run, running_worker, wait_for


def figures(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {"total_votes": snapshot["total_votes"], "precincts_reporting": snapshot["precincts_reporting"],
            "votes": {c["candidate_id"]: c["votes"] for c in snapshot["candidates"] if c["votes"]}}


def expected(truth: dict[str, Any]) -> dict[str, Any]:
    return {"total_votes": truth["total_votes"], "precincts_reporting": truth["precincts_reporting"],
            "votes": {c: n for c, n in truth["votes"].items() if n}}


def simulate_tiny(tmp_path: Path, election_id: str = "2024-11-05") -> tuple[Path, dict[str, Any]]:
    night = tmp_path / f"night-{election_id}.jsonl.gz"
    subprocess.run([sys.executable, "-m", "streams.cli", "simulate", "--preset", "tiny", "--seed", "11",
                    "--malformed", "0.01", "--election-id", election_id, "--out", str(night)], check=True, timeout=300)
    truth = orjson.loads(Path(f"{night}.truth.json").read_bytes())
    assert len(truth["races"]) >= 3, "the tiny preset should hold several race/states"
    return night, truth


def truth_reached(settings: Settings, truth: dict[str, Any]) -> bool:
    want = {key: expected(t) for key, t in truth["races"].items()}
    got = latest_by_key(run(read_topic(settings, "state-results")))
    return all(k in got and figures(got[k]) == w for k, w in want.items())


def test_simulated_night_ends_at_its_truth(settings: Settings, tmp_path: Path) -> None:
    night, truth = simulate_tiny(tmp_path)

    def reached() -> bool:
        return truth_reached(settings, truth)

    with running_worker(settings, tmp_path / "worker.log") as worker:
        run(replay_files(settings, [night], speed=None, max_gap=None, progress=False), 300)
        wait_for(reached, 300, what="state-results equal to the simulator's truth", alive=worker)
        dead = wait_for(lambda: _at_least(run(read_topic(settings, "dead-letters")), truth["malformed_records"]), 60,
                        what="the malformed records as dead letters")
    assert len(dead) == truth["malformed_records"]


def _at_least(records: list[Any], count: int) -> list[Any] | None:
    return records if len(records) >= count else None


def test_two_workers_share_the_partitions_and_end_at_the_truth(settings: Settings, tmp_path: Path) -> None:
    """Each state's tallies live on the worker that owns its partition; the second worker's
    arrival is a rebalance that moves partitions (and their tallies, rebuilt from the log).
    The tiny preset's two states, DE and NH, share one home partition in 2024 (state keys,
    design rule 3): three elections' nights put the six state keys on all four partitions, so
    each worker has something to tally whatever its share."""
    nights = [simulate_tiny(tmp_path, election_id) for election_id in ("2024-11-05", "2020-11-03", "2022-11-08")]
    truth = {"races": {key: race for _, one in nights for key, race in one["races"].items()}}
    settings = settings.with_(partitions=4)
    assert {home_partition(f"{e}/{s}", 4) for e in ("2024-11-05", "2020-11-03", "2022-11-08") for s in ("DE", "NH")} \
        == {0, 1, 2, 3}
    first = settings.with_(data_dir=f"{settings.data_dir}-a")
    second = settings.with_(data_dir=f"{settings.data_dir}-b")
    ports = [kafka_local.free_port(), kafka_local.free_port()]
    with running_worker(first, tmp_path / "worker-a.log", VOTEWIRE_WORKER_WEB_ADDR=f"127.0.0.1:{ports[0]}") as a, \
            running_worker(second, tmp_path / "worker-b.log", VOTEWIRE_WORKER_WEB_ADDR=f"127.0.0.1:{ports[1]}") as b:
        run(replay_files(settings, [night for night, _ in nights], speed=None, max_gap=None, progress=False), 300)
        wait_for(lambda: truth_reached(settings, truth), 300, what="the truth with two workers", alive=a)
        assert b.poll() is None
        applied = [applied_reports(port) for port in ports]
    assert all(n > 0 for n in applied), f"one worker tallied nothing: {applied}"


def applied_reports(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith('votewire_reports_total{outcome="applied"}'):
                return float(line.split()[-1])
    return 0.0
