"""`make bench`'s side-by-side parts on the session broker, on tiny nights: every reader of a
night (the no-durability loop, the Quix Streams peer, the worker) ends on the simulator's
truth, one vote off anywhere fails the run, the model part's worker really reads the
baselines, and the full ballot's worker is current again after a kill and drains a latency
phase. Speeds are not asserted (bench/ measures them); about two minutes."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bench.harness import Night, simulate
from bench.nights import kept_workers
from bench.parts import Bench
from bench.scoreboard import Scoreboard

pytestmark = pytest.mark.integration


def bench(bootstrap: str, tmp: Path, deadline: float = 120.0) -> Bench:
    board = Scoreboard(command="test", machine={}, versions={}, publish_interval_s=0.25)
    return Bench(argparse.Namespace(partitions=4, deadline=deadline, profile=None), tmp, bootstrap, board)


@pytest.fixture(scope="module")
def ballot(tmp_path_factory: pytest.TempPathFactory) -> Night:
    """A full-ballot night as state polls."""
    return simulate("full-tiny", tmp_path_factory.mktemp("ballot") / "polls.jsonl.gz", seed=11)


def test_every_reader_of_a_state_poll_night_ends_exact(kafka_bootstrap: str, ballot: Night, tmp_path: Path) -> None:
    run = bench(kafka_bootstrap, tmp_path)
    run.own_topic("ballot-polls", ballot)
    assert run.board.failures == []
    figures = run.board.figures
    keys = len(ballot.truth)
    for reader in ("tally_no_durability", "quix_peer", "votewire_catchup"):
        assert figures[f"ballot-polls.{reader}"]["exact"] == f"{keys}/{keys}", reader
    assert figures["ballot-polls.limit"]["reports"] == ballot.reports
    assert figures["ballot-polls.quix_peer"]["reports"] == ballot.reports


def test_one_vote_off_the_truth_fails_the_loop_and_the_worker(kafka_bootstrap: str, ballot: Night,
                                                             tmp_path: Path) -> None:
    key = sorted(ballot.truth)[0]
    truth = {k: dict(v) for k, v in ballot.truth.items()}
    truth[key]["total_votes"] += 1
    wrong = Night(ballot.recording, truth, ballot.reports, ballot.command)
    run = bench(kafka_bootstrap, tmp_path, deadline=15.0)
    topic = run.prefill("ballot-polls", [ballot.recording])
    run.catch_up_figure("ballot-polls", "wrong", topic, wrong)
    assert any(key in why and "worker catch-up" in why for why in run.board.failures), run.board.failures


def test_the_full_ballots_worker_is_current_again_after_a_kill_and_drains_a_latency_phase_of_its_own_units(
        kafka_bootstrap: str, ballot: Night, tmp_path: Path) -> None:
    run = bench(kafka_bootstrap, tmp_path)
    run.args.ballot_latency_seconds = 2.0
    run.keep = kept_workers(["ballot", "ballot-restart", "ballot-latency"])
    try:
        run.catch_up_figure("ballot-polls", "ballot-polls", run.prefill("ballot-polls", [ballot.recording]), ballot)
        run.restart("ballot-polls", ballot, "a full ballot's state")
        run.ballot_latency(ballot)
        run.release_after("ballot-latency")
        assert run.live == {}
    finally:
        run.close()
    assert run.board.failures == []
    keys = len(ballot.truth)
    assert run.board.figures["ballot-polls.restart"]["race_states"] == keys
    latency = run.board.figures["ballot-polls.latency_5000"]
    assert latency["drained"] is True
    assert latency["race_states"] == keys
    assert latency["reports"] > 0
    assert latency["p99_ms"] is not None


def test_the_model_part_runs_the_worker_with_baselines_and_the_plain_catch_up_without(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    night = simulate("tiny", tmp_path / "us.jsonl.gz", flags=("--baseline",))
    run = bench(kafka_bootstrap, tmp_path)
    run.model(night)
    assert run.board.failures == []
    keys = len(night.truth)
    assert run.board.figures["us.votewire_catchup"]["with_baseline"] == 0
    assert run.board.figures["us-model.votewire_catchup"]["with_baseline"] == keys
    assert run.board.figures["us-model.votewire_catchup"]["exact"] == f"{keys}/{keys}"
