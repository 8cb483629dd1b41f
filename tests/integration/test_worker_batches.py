"""Batches on the real broker: everything single reports guarantee, with `precinct-batch/1`.

The real Minnesota night (bundled as batches) is mixed with single reports: half of its
batches are sent as their reports one by one, every batch record is sent again later, order is
shuffled, and bad input of both kinds is mixed in: whole batches that break the contract (one
dead letter each, the original bytes) and bad elements inside otherwise good batches (one dead
letter each, the element as compact JSON with its `votewire-index`, the rest applied). The
final snapshot must still be the official result, with exactly the dead letters injected.
"""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path
from typing import Any

import orjson

from streams.contract.batching import batch_reports
from streams.kafka.replay import replay_files
from streams.settings import Settings
from tests.integration.harness import latest_by_key, read_topic, run, running_worker, source_ms, wait_for
from tests.integration.test_worker_mn import (
    MN_PRESIDENT,
    OFFICIAL,
    final_figures,
    mn_recording,
    state_results,
    wait_for_official,
)
from tests.integration.test_worker_robustness import load_lines, write_lines

__all__ = ["mn_recording"]  # the module fixture, shared with test_worker_mn

KEY = "2024-11-05/president/MN"
ENVELOPE = {"schema": "precinct-batch/1", "election_id": "2024-11-05", "race_id": "president", "state": "MN"}
GOOD_ELEMENT = {"county_fips": "27053", "precinct_id": "27053", "seq": 10_000, "reported_at": "2024-11-06T05:00:00Z",
                "votes": {"cand-0201": 1}, "complete": False}
# Elements that break one rule each (their seq is far above the night's, so if one were applied
# by mistake the final figures would show it).
BAD_ELEMENTS: list[Any] = [
    7,
    {**GOOD_ELEMENT, "votes": {"cand-0201": -5}},
    {**GOOD_ELEMENT, "votes": {"cand-0201": 1.5}},
    {**GOOD_ELEMENT, "precinct_id": ""},
    {**GOOD_ELEMENT, "reported_at": "yesterday"},
    {**GOOD_ELEMENT, "state": "WI"},
    {**GOOD_ELEMENT, "mode": "test"},
    {**GOOD_ELEMENT, "schema": "precinct-result/9"},
    {k: v for k, v in GOOD_ELEMENT.items() if k != "seq"},
]
BAD_BATCHES: list[bytes] = [
    orjson.dumps({**ENVELOPE, "reports": []}),
    orjson.dumps({**ENVELOPE, "state": "", "reports": [GOOD_ELEMENT]}),
    orjson.dumps({**ENVELOPE, "mode": "rehearsal", "reports": [GOOD_ELEMENT]}),
    orjson.dumps({k: v for k, v in ENVELOPE.items() if k != "election_id"} | {"reports": [GOOD_ELEMENT]}),
    orjson.dumps({**ENVELOPE, "reports": {"0": GOOD_ELEMENT}}),
    orjson.dumps({**ENVELOPE, "reports": [GOOD_ELEMENT], "padding": "x" * (1 << 20)}),
]


def mixed_night(lines: list[dict[str, Any]], seed: int = 11) -> tuple[list[dict[str, Any]], list[tuple[int, Any]]]:
    """The night as batches and singles, re-sent and shuffled, with bad batches and elements.
    Returns the lines and the injected bad elements as (index in its batch, element)."""
    rng = random.Random(seed)
    records = [line for line in lines if line["topic"] == "precinct-results"]
    others = [line for line in lines if line["topic"] != "precinct-results"]
    out: list[dict[str, Any]] = []
    for i, line in enumerate(records):
        if i % 2:
            out += [{**line, "value": report} for report in batch_reports(line["value"])]
        else:
            out.append(line)
    out += [dict(line) for line in rng.sample(records, len(records))]  # every batch again, later
    out.sort(key=lambda line: line["ts"])
    for start in range(0, len(out), 20):
        window = out[start:start + 20]
        rng.shuffle(window)
        out[start:start + 20] = window
    injected: list[tuple[int, Any]] = []
    for bad in BAD_ELEMENTS:  # each inside a copy of a good batch (re-sent: harmless), anywhere in it
        host = _a_batch(out, rng)["value"]["reports"][:3]
        index = rng.randrange(len(host) + 1)
        at = rng.randrange(len(out))
        out.insert(at, {"ts": out[at]["ts"], "topic": "precinct-results", "key": KEY,
                        "value": {**ENVELOPE, "reports": [*host[:index], bad, *host[index:]]}})
        injected.append((index, bad))
    for payload in BAD_BATCHES:
        at = rng.randrange(len(out))
        out.insert(at, {"ts": out[at]["ts"], "topic": "precinct-results", "key": KEY, "payload": payload.decode()})
    return others + out, injected


def _a_batch(lines: list[dict[str, Any]], rng: random.Random) -> dict[str, Any]:
    batches = [line for line in lines if line.get("value", {}).get("schema") == "precinct-batch/1"
               and line["key"] == KEY]
    return rng.choice(batches)


def test_batches_and_singles_mixed_with_duplicates_shuffling_and_bad_elements_end_official(
        settings: Settings, mn_recording: Path, tmp_path: Path) -> None:
    lines, injected = mixed_night(load_lines(mn_recording))
    path = write_lines(tmp_path / "mixed.jsonl", lines)
    expected_dead = len(injected) + len(BAD_BATCHES)
    with running_worker(settings, tmp_path / "worker.log") as worker:
        run(replay_files(settings, [path], speed=None, max_gap=None, progress=False))
        wait_for_official(settings, worker)  # (not final_figures of {}: a KeyError before the first snapshot)
        dead = wait_for(lambda: _at_least(run(read_topic(settings, "dead-letters")), expected_dead), 60,
                        what="every dead letter")
    assert len(dead) == expected_dead
    whole = [d for d in dead if "votewire-index" not in d.headers]
    elements = [d for d in dead if "votewire-index" in d.headers]
    assert sorted(d.raw for d in whole) == sorted(BAD_BATCHES)
    assert sorted((int(d.headers["votewire-index"]), d.raw) for d in elements) == sorted(
        (index, orjson.dumps(bad)) for index, bad in injected)
    for d in dead:
        assert d.key == KEY
        assert d.headers["votewire-error"]
        assert d.headers["votewire-source"].decode().startswith(settings.topic("precinct-results") + "[")
    for d in elements:
        assert d.headers["votewire-reason"].decode().startswith(f"reports[{int(d.headers['votewire-index'])}]: ")


def _at_least(records: list[Any], count: int) -> list[Any] | None:
    return records if len(records) >= count else None


def test_a_batch_before_polls_close_is_tallied_not_published(settings: Settings, tmp_path: Path) -> None:
    candidates = [{"candidate_id": "harris", "name": "Kamala Harris", "party": "DEM"},
                  {"candidate_id": "trump", "name": "Donald Trump", "party": "REP"}]
    definition = {"schema": "race-definition/1", "election_id": "e1", "race_id": "president", "state": "CA",
                  "office": "U.S. President", "precincts_total": 3, "polls_close": "2024-11-06T04:00:00Z",
                  "certified": False, "candidates": candidates}

    def batch(at: str, *units: tuple[str, int, int]) -> dict[str, Any]:
        reports = [{"county_fips": "06001", "precinct_id": p, "seq": 1, "reported_at": at,
                    "votes": {"harris": h, "trump": t}, "complete": True} for p, h, t in units]
        return {"ts": source_ms(at), "topic": "precinct-results", "key": "e1/president/CA",
                "value": {"schema": "precinct-batch/1", "election_id": "e1", "race_id": "president", "state": "CA",
                          "reports": reports}}

    # A test-mode batch after it, on the same partition: once its snapshot is out, the early
    # live batch has been taken too.
    test_mode = batch("2024-11-06T05:00:00Z", ("t1", 1, 1))
    test_mode["value"]["mode"] = "test"
    early = [{"ts": source_ms("2024-11-06T00:00:00Z"), "topic": "race-definitions", "key": "e1/president/CA",
              "value": definition},
             batch("2024-11-06T03:59:59Z", ("p1", 10, 5), ("p2", 4, 4)), test_mode]
    with running_worker(settings, tmp_path / "worker.log") as worker:
        run(replay_files(settings, [write_lines(tmp_path / "a.jsonl", early)], speed=None, max_gap=None,
                         progress=False))
        snaps = wait_for(lambda: state_results(settings) or None, 120, what="the test-mode snapshot", alive=worker)
        assert set(snaps) == {"e1/president/CA/test"}, "an embargoed batch was published"
        later = [batch("2024-11-06T04:30:00Z", ("p3", 7, 3))]
        run(replay_files(settings, [write_lines(tmp_path / "b.jsonl", later)], speed=None, max_gap=None,
                         progress=False))
        live = wait_for(lambda: state_results(settings).get("e1/president/CA/live"), 120, what="live after polls close",
                        alive=worker)
    assert (live["total_votes"], live["precincts_reporting"], live["as_of"]) == (33, 3, "2024-11-06T04:30:00Z")
    every = run(read_topic(settings, "state-results"))
    assert all(r.value["as_of"] >= "2024-11-06T04:00:00Z" for r in every if r.value["mode"] == "live")
    assert latest_by_key(every)["e1/president/CA/live"]["total_votes"] == 33


def test_a_worker_killed_mid_night_restarts_from_its_checkpoint_exact(settings: Settings, mn_recording: Path,
                                                                      tmp_path: Path) -> None:
    """The first half of the night, a pause (the worker checkpoints as input goes quiet and faust
    commits), SIGKILL, a new worker on the same data dir, the second half: the new worker starts
    from the checkpoint, not the log's start, and ends at the official result."""
    lines = load_lines(mn_recording)
    reports = [line for line in lines if line["topic"] == "precinct-results"]
    half = len(reports) // 2
    first = write_lines(tmp_path / "first.jsonl", [line for line in lines if line["topic"] != "precinct-results"]
                        + reports[:half])
    second = write_lines(tmp_path / "second.jsonl", reports[half:])
    checkpoints = Path(settings.data_dir) / "worker" / "checkpoints"
    quiet_only = {"VOTEWIRE_CHECKPOINT_INTERVAL_S": "600"}  # so the only checkpoint is the quiet one
    with running_worker(settings, tmp_path / "worker1.log", **quiet_only) as worker:
        run(replay_files(settings, [first], speed=None, max_gap=None, progress=False))
        wait_for(lambda: MN_PRESIDENT in state_results(settings) or None, 120, what="first snapshots", alive=worker)
        wait_for(lambda: list(checkpoints.rglob("partition-*.json")) or None, 60, every_s=0.5,
                 what="the checkpoint written once input went quiet", alive=worker)
        time.sleep(3)  # faust commits every second: past the checkpoint's offsets by now
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    with running_worker(settings, tmp_path / "worker2.log", **quiet_only) as worker:
        run(replay_files(settings, [second], speed=None, max_gap=None, progress=False))
        wait_for(lambda: final_figures(state_results(settings).get(MN_PRESIDENT) or {}) == OFFICIAL, 240,
                 what="official final after a SIGKILL", alive=worker)
    log = (tmp_path / "worker2.log").read_text(errors="replace")
    assert "restored from its checkpoint" in log
    assert "from 0 records" in log, "the restored partitions were read again from the log"
    versions = [r.value["version"] for r in run(read_topic(settings, "state-results")) if r.key == MN_PRESIDENT]
    assert versions == sorted(versions), "a version went down across the restart"
