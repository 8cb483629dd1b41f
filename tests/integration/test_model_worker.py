"""The model of the vote still out in a real worker on the real broker.

A simulated night (`votewire simulate --preset small --baseline`: seven states, 13 race/states;
the `tiny` preset's states have too few precincts for an interval before every one is in) is
replayed with its baselines, the president races without their published expected vote. The
night goes in two halves: the first up to about 60% of the final vote, where the worker's
state snapshots must carry the model's estimate (the same one the counting room computes from
that prefix by itself), the readout must say "(est.)" where no expected vote is published and
not where one is, and the 90% interval of the expected vote must hold the truth's final total for
most race/states; then the rest, after which the snapshots must be the truth's.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from streams import contract
from streams.contract.recording import RecordingReader
from streams.counting.room import CountingRoom
from streams.kafka.replay import replay_files
from streams.model.baselines import decode_baseline
from streams.settings import Settings
from tests.integration.harness import latest_by_key, read_topic, run, running_worker, wait_for
from tests.integration.test_simulated_night import truth_reached

CUT = 0.6  # of the truth's final vote, over every race


def simulate_small(tmp_path: Path) -> tuple[Path, Path, dict[str, Any]]:
    night = tmp_path / "night.jsonl.gz"
    subprocess.run([sys.executable, "-m", "streams.cli", "simulate", "--preset", "small", "--seed", "3",
                    "--baseline", "--out", str(night)], check=True, timeout=300)
    truth = orjson.loads(Path(f"{night}.truth.json").read_bytes())
    return night, Path(f"{night}.baseline.jsonl"), truth


def published(key: str | None) -> bool:
    """The senate races keep their published expected vote; the president races have none."""
    return key is not None and "/senate/" in key


def split_night(night: Path, truth: dict[str, Any], tmp_path: Path) -> tuple[Path, Path, CountingRoom]:
    """The night's records in two files, cut once CUT of the final vote is counted (expected votes
    of the president races left out of both), and a counting room that took the first file."""
    final = sum(race["total_votes"] for race in truth["races"].values())
    room, halves, offset = CountingRoom(), ([], []), 0
    with RecordingReader(night) as lines:
        for line in lines:
            if line.topic == contract.EXPECTED_VOTES and not published(line.key):
                continue
            half = 1 if sum(t.total_votes for t in room.tallies.values()) >= CUT * final else 0
            halves[half].append(orjson.dumps({"ts": line.ts_ms, "topic": line.topic, "key": line.key,
                                              "payload": line.value.decode()}))
            if half == 0:
                offset = take(room, line, offset)
    paths = (tmp_path / "first.jsonl", tmp_path / "rest.jsonl")
    for path, records in zip(paths, halves, strict=True):
        path.write_bytes(b"\n".join(records) + b"\n")
    return *paths, room


def take(room: CountingRoom, line: Any, offset: int) -> int:
    """One recording line into the room, as the worker takes it."""
    if line.topic == contract.RACE_DEFINITIONS:
        room.book.put_definition(dataclasses.replace(contract.decode_race_definition(line.value), revision=offset))
        return offset + 1
    if line.topic == contract.EXPECTED_VOTES:
        room.book.put_expected(contract.decode_expected_vote(line.value))
    elif line.topic == contract.PRECINCT_RESULTS:
        room.apply_record(contract.decode_precinct_record(line.value).reports, line.ts_ms)  # as the worker does
    return offset


MODEL_FIELDS = ("model_expected_votes", "model_expected_range", "model_votes_remaining", "model_units_used",
                "model_units_outstanding", "model_note", "expected_vote_source", "pct_expected_counted", "readout")


def test_the_worker_publishes_the_models_estimate_and_a_published_expected_vote_wins(
        settings: Settings, tmp_path: Path) -> None:
    night, baselines, truth = simulate_small(tmp_path)
    first, rest, room = split_night(night, truth, tmp_path)
    with RecordingReader(baselines) as lines:
        for line in lines:
            room.book.put_baseline(decode_baseline(line.value))
    alone = {s.key: s.value for s in room.due_state_snapshots()}
    assert sum(1 for s in alone.values() if s["model_expected_votes"] is not None) >= 6, "too few estimates to judge"

    with running_worker(settings, tmp_path / "worker.log") as worker:
        run(replay_files(settings, [baselines, first], speed=None, max_gap=None, progress=False), 300)
        snaps = wait_for(lambda: at_the_cut(settings, alone), 300, what="the snapshots of the first half",
                         alive=worker)
        for key, snap in snaps.items():
            assert {f: snap[f] for f in MODEL_FIELDS} == {f: alone[key][f] for f in MODEL_FIELDS}, key
        check_the_estimates(snaps, truth)
        run(replay_files(settings, [rest], speed=None, max_gap=None, progress=False), 300)
        wait_for(lambda: truth_reached(settings, truth), 300, what="the truth", alive=worker)

    final = latest_by_key(run(read_topic(settings, "state-results")))
    for key, snap in final.items():  # every unit in: the model is the count
        assert snap["model_expected_votes"] == snap["total_votes"], key
        assert snap["expected_vote_source"] == ("published" if published(key) else "model"), key


def at_the_cut(settings: Settings, alone: dict[str, Any]) -> dict[str, Any] | None:
    """The worker's latest state snapshots once each counts what the room counted from the first half."""
    latest = latest_by_key(run(read_topic(settings, "state-results")))
    done = all(key in latest and latest[key]["total_votes"] == snap["total_votes"] for key, snap in alone.items())
    return {key: latest[key] for key in alone} if done else None


def check_the_estimates(snaps: dict[str, Any], truth: dict[str, Any]) -> None:
    covered, estimated = 0, 0
    for key, snap in snaps.items():
        if snap["model_expected_votes"] is None:
            assert snap["model_note"], key  # no estimate says why
            continue
        estimated += 1
        low, high = snap["model_expected_range"]["90"]
        covered += low <= truth["races"][key]["total_votes"] <= high
        if published(key):
            assert snap["expected_vote_source"] == "published", key
            assert "(est.)" not in snap["readout"], key
        else:
            assert snap["expected_vote_source"] == "model", key
            assert snap["readout"].endswith(f"about {int(snap['pct_expected_counted'])}% of expected vote counted "
                                            "(est.)"), key
    assert covered >= 2 / 3 * estimated, f"the truth in {covered} of {estimated} 90% intervals"
