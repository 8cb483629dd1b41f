"""The worker's guarantees on the real broker, on the real Minnesota night and small crafted inputs:
duplicates, shuffling and malformed records change nothing but the dead letters; replay speed
changes nothing; a SIGKILLed worker restarts exact; embargo and test/live separation hold."""

from __future__ import annotations

import gzip
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from streams.kafka.replay import replay_files
from streams.settings import Settings
from tests.integration.harness import ca_president, latest_by_key, read_topic, run, running_worker, source_ms, wait_for
from tests.integration.test_worker_mn import MN_PRESIDENT, OFFICIAL, final_figures, mn_recording, state_results

__all__ = ["mn_recording"]  # the module fixture, shared with test_worker_mn

# One malformed payload of each kind the contract names (docs/CONTRACT.md, "Input messages").
GOOD = {"schema": "precinct-result/1", "election_id": "2024-11-05", "race_id": "president", "state": "MN",
        "county_fips": "27053", "precinct_id": "27053", "seq": 999, "reported_at": "2024-11-06T05:00:00Z",
        "votes": {"cand-0201": 1}, "complete": False}
MALFORMED: list[str] = [
    "not json at all",
    "[1, 2, 3]",
    orjson.dumps({**GOOD, "votes": {"cand-0201": -5}}).decode(),
    orjson.dumps({**GOOD, "votes": {"cand-0201": 1.5}}).decode(),
    orjson.dumps({**GOOD, "votes": {"cand-0201": "12"}}).decode(),
    orjson.dumps({**GOOD, "votes": {"cand-0201": True}}).decode(),
    orjson.dumps({**GOOD, "votes": {"cand-0201": 2**53 + 1}}).decode(),
    orjson.dumps({**GOOD, "precinct_id": ""}).decode(),
    orjson.dumps({**GOOD, "mode": "rehearsal"}).decode(),
    orjson.dumps({**GOOD, "schema": "precinct-result/9"}).decode(),
    orjson.dumps({k: v for k, v in GOOD.items() if k != "seq"}).decode(),
    orjson.dumps(GOOD).decode().replace('"votes":{"cand-0201":1}', '"votes":{"cand-0201":NaN}'),
    orjson.dumps({**GOOD, "reported_at": "yesterday"}).decode(),
    orjson.dumps({**GOOD, "padding": "x" * (1 << 20)}).decode(),
]


def load_lines(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt") as f:
        return [orjson.loads(line) for line in f if line.strip()]


def write_lines(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


def chaos(lines: list[dict[str, Any]], seed: int = 7) -> tuple[list[dict[str, Any]], list[str]]:
    """10% of precinct records sent again later, order shuffled within windows of 25, and
    malformed payloads (1% of the records, every kind at least once) mixed in."""
    rng = random.Random(seed)
    reports = [line for line in lines if line["topic"] == "precinct-results"]
    others = [line for line in lines if line["topic"] != "precinct-results"]
    noisy = reports + rng.sample(reports, len(reports) // 10)
    noisy.sort(key=lambda line: line["ts"])
    windows = [noisy[i:i + 25] for i in range(0, len(noisy), 25)]
    for window in windows:
        rng.shuffle(window)
    bad = [MALFORMED[i % len(MALFORMED)] for i in range(max(len(MALFORMED), len(lines) // 100))]
    mixed = [line for window in windows for line in window]
    for payload in bad:
        at = rng.randrange(len(mixed))
        mixed.insert(at, {"ts": mixed[at]["ts"], "topic": "precinct-results", "key": "2024-11-05/president/MN",
                          "payload": payload})
    return others + mixed, bad


def test_duplicates_shuffling_and_malformed_records_change_only_the_dead_letters(
        settings: Settings, mn_recording: Path, tmp_path: Path) -> None:
    noisy, bad = chaos(load_lines(mn_recording))
    path = write_lines(tmp_path / "chaos.jsonl", noisy)
    with running_worker(settings, tmp_path / "worker.log") as worker:
        run(replay_files(settings, [path], speed=None, max_gap=None, progress=False))
        wait_for(lambda: final_figures(state_results(settings).get(MN_PRESIDENT) or _EMPTY) == OFFICIAL, 240,
                 what="official final despite chaos", alive=worker)
        dead = wait_for(lambda: _dead_letters_when(settings, len(bad)), 60, what="all dead letters")
    assert sorted(d.raw for d in dead) == sorted(p.encode() for p in bad)
    for d in dead:
        assert d.headers["votewire-reason"], d.raw[:80]
        assert d.headers["votewire-error"]
        assert d.headers["votewire-source"].decode().startswith(settings.topic("precinct-results") + "[")


_EMPTY: dict[str, Any] = {"candidates": [{"candidate_id": "x", "votes": 0}], "total_votes": 0,
                          "precincts_reporting": 0}


def _dead_letters_when(settings: Settings, count: int) -> list[Any] | None:
    dead = run(read_topic(settings, "dead-letters"))
    return dead if len(dead) >= count else None


def test_replay_speed_does_not_change_the_final_snapshots(settings: Settings, mn_recording: Path,
                                                          tmp_path: Path) -> None:
    finals = []
    for i, speed in enumerate((None, 600.0)):
        prefixed = settings.with_(topic_prefix=f"{settings.topic_prefix}s{i}.", app_id=f"{settings.app_id}-{i}",
                                  data_dir=str(tmp_path / f"d{i}"))
        with running_worker(prefixed, tmp_path / f"worker{i}.log") as worker:
            run(replay_files(prefixed, [mn_recording], speed=speed, max_gap=0.3, progress=False), 600)
            wait_for(lambda p=prefixed: final_figures(state_results(p).get(MN_PRESIDENT) or _EMPTY) == OFFICIAL,
                     240, what=f"official final at speed {speed}", alive=worker)
            time.sleep(2 * settings.publish_interval_s + 1)  # let the senate race settle too
            finals.append(state_results(prefixed))
    assert finals[0] == finals[1]  # every field: snapshots carry source time only, never the wall clock
    assert set(finals[0]) == {MN_PRESIDENT, "2024-11-05/senate/MN/live"}


def test_a_worker_killed_mid_replay_restarts_exact(settings: Settings, mn_recording: Path, tmp_path: Path) -> None:
    kill_mid_replay_and_restart(settings, mn_recording, tmp_path)


def kill_mid_replay_and_restart(settings: Settings, recording: Path, tmp_path: Path,
                                before_kill: Callable[[subprocess.Popen[bytes]], None] = lambda worker: None,
                                **env: str) -> None:
    """SIGKILL a worker mid-night (once it has published, then `before_kill`), start another on
    the same data dir, and check the night still ends official with versions never going down."""
    replay = [sys.executable, "-m", "streams.cli", "replay", "--speed", "600", "--max-gap", "1", str(recording)]
    with running_worker(settings, tmp_path / "worker1.log", **env) as first:
        # A paced replay (about 50 s) in the background, so that the kill lands mid-night.
        replaying = subprocess.Popen(replay, env=_env(settings), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: MN_PRESIDENT in state_results(settings), 120, what="first snapshots", alive=first)
            before_kill(first)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            assert replaying.poll() is None, "the replay ended before the kill: nothing was tested"
        except BaseException:
            replaying.kill()
            raise
    try:
        with running_worker(settings, tmp_path / "worker2.log", **env) as second:
            replaying.wait(timeout=300)
            wait_for(lambda: final_figures(state_results(settings).get(MN_PRESIDENT) or _EMPTY) == OFFICIAL, 240,
                     what="official final after a SIGKILL", alive=second)
    finally:
        replaying.kill()
    versions = [r.value["version"] for r in run(read_topic(settings, "state-results")) if r.key == MN_PRESIDENT]
    assert versions == sorted(versions), "a version went down across the restart"


def _env(settings: Settings) -> dict[str, str]:
    from tests.integration.harness import votewire_env

    return votewire_env(settings)


def test_embargo_and_test_mode_never_leak(settings: Settings, tmp_path: Path) -> None:
    definition = ca_president(precincts_total=2)

    def report(unit: str, at: str, votes: dict[str, int], mode: str) -> dict[str, Any]:
        return {"ts": source_ms(at), "topic": "precinct-results", "key": "e1/president/CA", "value": {
            "schema": "precinct-result/1", "election_id": "e1", "race_id": "president", "state": "CA",
            "county_fips": "06001", "precinct_id": unit, "seq": 1, "reported_at": at, "votes": votes,
            "complete": True, "mode": mode}}

    lines = [{"ts": source_ms("2024-11-06T00:00:00Z"), "topic": "race-definitions", "key": "e1/president/CA",
              "value": definition},
             report("p1", "2024-11-06T03:59:59Z", {"harris": 10, "trump": 5}, "live"),  # before polls close
             report("t1", "2024-11-06T05:00:00Z", {"harris": 1, "trump": 900}, "test")]
    with running_worker(settings, tmp_path / "worker.log") as worker:
        run(replay_files(settings, [write_lines(tmp_path / "a.jsonl", lines)], speed=None, max_gap=None,
                         progress=False))
        snaps = wait_for(lambda: state_results(settings) or None, 120, what="the test-mode snapshot", alive=worker)
        assert set(snaps) == {"e1/president/CA/test"}, "an embargoed live count was published"
        assert snaps["e1/president/CA/test"]["mode"] == "test"
        assert snaps["e1/president/CA/test"]["total_votes"] == 900 + 1
        later = [report("p2", "2024-11-06T04:30:00Z", {"harris": 7, "trump": 3}, "live")]
        run(replay_files(settings, [write_lines(tmp_path / "b.jsonl", later)], speed=None, max_gap=None,
                         progress=False))
        live = wait_for(lambda: state_results(settings).get("e1/president/CA/live"), 120, what="live after polls close",
                        alive=worker)
    assert (live["mode"], live["total_votes"], live["as_of"]) == ("live", 25, "2024-11-06T04:30:00Z")
    every = run(read_topic(settings, "state-results"))
    assert all(r.value["mode"] == r.key.rsplit("/", 1)[1] for r in every)
    assert all(r.value["as_of"] >= "2024-11-06T04:00:00Z" for r in every if r.value["mode"] == "live")
    assert latest_by_key(every)["e1/president/CA/test"]["total_votes"] == 901
