"""The simulator's baseline election, and the model scored on simulated and real nights."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import orjson

from streams.commands import simulate
from streams.model import check
from streams.model.baselines import decode_baseline
from streams.model.calibration import Score, Truth, score, table
from streams.model.estimate import NoEstimate, Projection
from streams.settings import Settings
from streams.simulation import model_check
from streams.simulation.baseline import previous_row


def simulated(tmp_path: Path, name: str, *argv: str) -> Path:
    parser = argparse.ArgumentParser()
    simulate.add_arguments(parser)
    out = tmp_path / name
    assert simulate.run(parser.parse_args(["--preset", "tiny", "--seed", "4", "--jobs", "1", "--out", str(out),
                                           *argv]), Settings()) == 0
    return out


def test_the_baseline_leaves_the_night_byte_for_byte_as_it_was(tmp_path: Path) -> None:
    plain, with_baseline = simulated(tmp_path, "a.jsonl"), simulated(tmp_path, "b.jsonl", "--baseline")
    assert plain.read_bytes() == with_baseline.read_bytes()
    assert Path(f"{plain}.truth.json").read_bytes() == Path(f"{with_baseline}.truth.json").read_bytes()
    assert not Path(f"{plain}.baseline.jsonl").exists()


def test_every_race_gets_a_baseline_of_all_its_precincts(tmp_path: Path) -> None:
    night = simulated(tmp_path, "n.jsonl", "--baseline")
    truth = orjson.loads(Path(f"{night}.truth.json").read_bytes())["races"]
    lines = [orjson.loads(line) for line in Path(f"{night}.baseline.jsonl").read_bytes().splitlines()]
    assert sorted(f"{line['key']}/live" for line in lines) == sorted(truth)
    for line in lines:
        baseline = decode_baseline(orjson.dumps(line["value"]))
        final = truth[f"{line['key']}/live"]
        assert line["topic"] == "baselines"
        assert len(baseline.units) == final["precincts_total"]
        assert all(u.county == unit_id.split("-")[0] for unit_id, u in baseline.units.items())
        then = sum(u.total_votes for u in baseline.units.values())
        assert 0.6 < final["total_votes"] / then < 1.6  # turnout moved, not replaced


def test_a_previous_row_moves_turnout_and_swing_back() -> None:
    # 1,100 votes now at a ratio of 1.1: 1,000 then; 60% now after a 10-point swing: 50% then.
    assert previous_row([660, 440], 1.1, 0.1) == [1000, 500, 500]
    assert previous_row([0, 0], 1.0, 0.05) == [1, 0, 1]  # no votes: an even split, nothing below 0


def test_a_score_says_which_intervals_held_the_truth() -> None:
    projection = Projection(50, 100, {80: (95, 105), 90: (90, 110), 95: (80, 120)},
                            {"a": 60.0, "b": 40.0}, {"a": {90: (55.0, 65.0)}, "b": {90: (41.0, 45.0)}}, 20, 3, 0)
    result = score(50, projection, Truth(108, {"a": 64, "b": 44}))
    assert result.expected_covered == {80: False, 90: True, 95: True}
    assert result.shares_covered == (True, False)  # b's 40.7% is below its 41-45
    assert math.isclose(result.error_pct, 100 * 8 / 108)
    assert score(25, NoEstimate("too few"), Truth(108, {"a": 64})) == Score(25, estimated=False)


def test_the_table_counts_estimates_and_coverage_per_checkpoint() -> None:
    scores = [Score(50, True, {80: True, 90: True, 95: True}, (True, False), 1.0, 4.0, 0.5),
              Score(50, True, {80: False, 90: True, 95: True}, (True, True), 3.0, 6.0, 0.1),
              Score(50, False)]
    row = table(scores).splitlines()[2]
    assert row == ("| 50% | 67% (2/3) | 50% (1/2) | 100% (2/2) | 100% (2/2) | 75% (3/4) | 2.00% | 5.00% | 0.30 |")


def test_a_simulated_night_is_scored_at_each_checkpoint_it_reaches() -> None:
    scores = model_check.simulated_scores(1, "tiny")
    assert {s.checkpoint for s in scores} == set(check.CHECKPOINTS)
    assert len(scores) == 3 * 3  # DE president and senate, NH president: three checkpoints each


def test_the_minnesota_replay_ends_at_the_certified_result() -> None:
    replay, snapshots, scores = check.minnesota("president")
    assert replay.truth is not None
    assert replay.truth.total_votes == 3_253_920
    assert replay.truth.votes["cand-0201"] == 1_656_979  # Harris
    assert [s.checkpoint for s in scores] == [25, 50, 75]
    first = next(s for s in snapshots if isinstance(s.projection, Projection))
    assert first.at == "2024-11-06T05:00:02Z"  # the first snapshot with 19 or more counties fully in
