"""Polls and batches on the real broker: everything single reports guarantee, with
`state-poll/1` and `precinct-batch/1`.

The real Minnesota night (bundled as polls; here also cut into batches per race) is mixed with
single reports: half of its polls (or batches) are sent as their reports one by one, a quarter
of those under the older race key (re-keyed by the worker to the state's home, design rule 3),
every poll record is sent again later, order is shuffled, and bad input of every kind is mixed
in: whole records that break the contract (one dead letter each, the original bytes), bad race
entries and bad elements inside otherwise good polls and batches (one dead letter each, the
entry or element as compact JSON with its `votewire-index`, `i` or `i.j` in a poll, the rest
applied). The final snapshot must still be the official result, with exactly the dead letters
injected.
"""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.contract import race_key
from streams.contract.batching import batch_records, record_reports
from streams.kafka.replay import replay_files
from streams.settings import Settings
from tests.integration.harness import ca_president, latest_by_key, read_topic, run, running_worker, source_ms, wait_for
from tests.integration.test_worker_mn import MN_PRESIDENT, mn_recording, state_results, wait_for_official
from tests.integration.test_worker_robustness import load_lines, write_lines

__all__ = ["mn_recording"]  # the module fixture, shared with test_worker_mn

KEY = "2024-11-05/MN"  # design rule 3: precinct results by state
GROUPINGS = pytest.mark.parametrize("grouping", ["state-poll/1", "precinct-batch/1"], ids=["polls", "batches"])
BATCH = {"schema": "precinct-batch/1", "election_id": "2024-11-05", "race_id": "president", "state": "MN"}
POLL = {"schema": "state-poll/1", "election_id": "2024-11-05", "state": "MN"}
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
# Race entries of a poll that break one rule each: refused whole, the other races applied.
BAD_RACE_ENTRIES: list[Any] = [
    "president",
    {"race_id": "", "reports": [GOOD_ELEMENT]},
    {"race_id": 7, "reports": [GOOD_ELEMENT]},
    {"reports": [GOOD_ELEMENT]},
    {"race_id": "president", "reports": []},
    {"race_id": "president", "reports": GOOD_ELEMENT},
]
BAD_RECORDS: dict[str, list[bytes]] = {
    "precinct-batch/1": [
        orjson.dumps({**BATCH, "reports": []}),
        orjson.dumps({**BATCH, "state": "", "reports": [GOOD_ELEMENT]}),
        orjson.dumps({**BATCH, "mode": "rehearsal", "reports": [GOOD_ELEMENT]}),
        orjson.dumps({k: v for k, v in BATCH.items() if k != "election_id"} | {"reports": [GOOD_ELEMENT]}),
        orjson.dumps({**BATCH, "reports": {"0": GOOD_ELEMENT}}),
        orjson.dumps({**BATCH, "reports": [GOOD_ELEMENT], "padding": "x" * (1 << 20)}),
    ],
    "state-poll/1": [
        orjson.dumps({**POLL, "races": []}),
        orjson.dumps({**POLL, "state": "", "races": [{"race_id": "president", "reports": [GOOD_ELEMENT]}]}),
        orjson.dumps({**POLL, "mode": "rehearsal", "races": [{"race_id": "president", "reports": [GOOD_ELEMENT]}]}),
        orjson.dumps({k: v for k, v in POLL.items() if k != "election_id"} | {"races": [{"race_id": "president"}]}),
        orjson.dumps({**POLL, "races": {"president": [GOOD_ELEMENT]}}),
        orjson.dumps({**POLL, "races": [{"race_id": "president", "reports": [GOOD_ELEMENT]}],
                      "padding": "x" * (1 << 20)}),
    ],
}
Injected = list[tuple[str, Any]]  # (votewire-index, the refused entry or element)


def grouped(lines: list[dict[str, Any]], grouping: str) -> list[dict[str, Any]]:
    """The night's precinct records as polls (as bundled) or as one batch per race entry."""
    if grouping == "state-poll/1":
        return lines
    out = []
    for line in lines:
        if line["topic"] != "precinct-results":
            out.append(line)
            continue
        for race in line["value"]["races"]:
            reports = record_reports({**line["value"], "races": [race]})
            out += [{**line, "value": batch} for batch in batch_records(reports)]
    return out


def mixed_night(lines: list[dict[str, Any]], grouping: str, seed: int = 11) -> tuple[list[dict[str, Any]], Injected]:
    """The night as polls (or batches) and singles, re-sent and shuffled, with bad records, race
    entries and elements. Returns the lines and the injected bad entries and elements."""
    rng = random.Random(seed)
    records = [line for line in lines if line["topic"] == "precinct-results"]
    others = [line for line in lines if line["topic"] != "precinct-results"]
    out: list[dict[str, Any]] = []
    for i, line in enumerate(records):
        if i % 2:
            older = i % 4 == 1  # keyed the older way, by race: they go round through the re-keyed topic
            out += [{**line, "key": race_key(r["election_id"], r["race_id"], r["state"]) if older else KEY, "value": r}
                    for r in record_reports(line["value"])]
        else:
            out.append(line)
    out += [dict(line) for line in rng.sample(records, len(records))]  # every record again, later
    out.sort(key=lambda line: line["ts"])
    for start in range(0, len(out), 20):
        window = out[start:start + 20]
        rng.shuffle(window)
        out[start:start + 20] = window
    injected = _inject_bad_elements(out, grouping, rng)
    for payload in BAD_RECORDS[grouping]:
        at = rng.randrange(len(out))
        out.insert(at, {"ts": out[at]["ts"], "topic": "precinct-results", "key": KEY, "payload": payload.decode()})
    return others + out, injected


def _inject_bad_elements(out: list[dict[str, Any]], grouping: str, rng: random.Random) -> Injected:
    """Each bad element (and, in polls, each bad race entry) inside a copy of a good record
    (re-sent: harmless), anywhere in it."""
    hosts = [line for line in out if line.get("value", {}).get("schema") == grouping]
    injected: Injected = []
    entries = BAD_RACE_ENTRIES if grouping == "state-poll/1" else []
    for bad, whole_entry in [(bad, False) for bad in BAD_ELEMENTS] + [(bad, True) for bad in entries]:
        value = dict(rng.choice(hosts)["value"])
        if grouping == "precinct-batch/1":
            host = value["reports"][:3]
            j = rng.randrange(len(host) + 1)
            value["reports"] = [*host[:j], bad, *host[j:]]
            injected.append((str(j), bad))
        else:
            races = [{**race, "reports": race["reports"][:2]} for race in value["races"]]
            i = rng.randrange(len(races))
            if whole_entry:
                races.insert(i, bad)
                injected.append((str(i), bad))
            else:
                j = rng.randrange(len(races[i]["reports"]) + 1)
                races[i]["reports"].insert(j, bad)
                injected.append((f"{i}.{j}", bad))
            value["races"] = races
        at = rng.randrange(len(out))
        out.insert(at, {"ts": out[at]["ts"], "topic": "precinct-results", "key": KEY, "value": value})
    return injected


@GROUPINGS
def test_polls_or_batches_and_singles_mixed_with_duplicates_shuffling_and_bad_input_end_official(
        settings: Settings, mn_recording: Path, tmp_path: Path, grouping: str) -> None:
    lines, injected = mixed_night(grouped(load_lines(mn_recording), grouping), grouping)
    path = write_lines(tmp_path / "mixed.jsonl", lines)
    bad_records = BAD_RECORDS[grouping]
    expected_dead = len(injected) + len(bad_records)
    with running_worker(settings, tmp_path / "worker.log") as worker:
        run(replay_files(settings, [path], speed=None, max_gap=None, progress=False))
        wait_for_official(settings, worker)  # (not final_figures of {}: a KeyError before the first snapshot)
        dead = wait_for(lambda: _at_least(run(read_topic(settings, "dead-letters")), expected_dead), 60,
                        what="every dead letter")
    assert len(dead) == expected_dead
    whole = [d for d in dead if "votewire-index" not in d.headers]
    parts = [d for d in dead if "votewire-index" in d.headers]
    assert sorted(d.raw for d in whole) == sorted(bad_records)
    assert sorted((d.headers["votewire-index"].decode(), d.raw) for d in parts) == sorted(
        (index, orjson.dumps(bad)) for index, bad in injected)
    for d in dead:
        assert d.key == KEY
        assert d.headers["votewire-error"]
        assert d.headers["votewire-source"].decode().startswith(settings.topic("precinct-results") + "[")
    for d in parts:
        assert d.headers["votewire-reason"].decode().startswith(_place(d.headers["votewire-index"].decode(), grouping))


def _place(index: str, grouping: str) -> str:
    """How a reason names where a refused part was: `reports[j]`, `races[i]` or `races[i].reports[j]`."""
    if grouping == "precinct-batch/1":
        return f"reports[{index}]: "
    i, _, j = index.partition(".")
    return f"races[{i}].reports[{j}]: " if j else f"races[{i}]: "


def _at_least(records: list[Any], count: int) -> list[Any] | None:
    return records if len(records) >= count else None


def test_a_batch_before_polls_close_is_tallied_not_published(settings: Settings, tmp_path: Path) -> None:
    definition = ca_president(precincts_total=3)

    def batch(at: str, *units: tuple[str, int, int]) -> dict[str, Any]:
        reports = [{"county_fips": "06001", "precinct_id": p, "seq": 1, "reported_at": at,
                    "votes": {"harris": h, "trump": t}, "complete": True} for p, h, t in units]
        return {"ts": source_ms(at), "topic": "precinct-results", "key": "e1/CA",
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


def test_a_poll_before_one_races_polls_close_releases_only_the_others(settings: Settings, tmp_path: Path) -> None:
    """One record, two races: the senate's polls closed at 03:00, the president's close at 04:00.
    A poll at 03:59:59 is tallied for both and published for the senate only (design rule 7)."""
    def definition(race_id: str, polls_close: str) -> dict[str, Any]:
        return {"ts": source_ms("2024-11-06T00:00:00Z"), "topic": "race-definitions", "key": f"e1/{race_id}/CA",
                "value": {**ca_president(precincts_total=3), "race_id": race_id, "office": race_id,
                          "polls_close": polls_close}}

    def poll(at: str, *races: tuple[str, list[tuple[str, int, int]]]) -> dict[str, Any]:
        entries = [{"race_id": race_id, "reports": [
            {"county_fips": "06001", "precinct_id": p, "seq": 1, "reported_at": at, "votes": {"harris": h, "trump": t},
             "complete": True} for p, h, t in units]} for race_id, units in races]
        return {"ts": source_ms(at), "topic": "precinct-results", "key": "e1/CA",
                "value": {"schema": "state-poll/1", "election_id": "e1", "state": "CA", "races": entries}}

    early = [definition("president", "2024-11-06T04:00:00Z"), definition("senate", "2024-11-06T03:00:00Z"),
             poll("2024-11-06T03:59:59Z", ("president", [("p1", 10, 5), ("p2", 4, 4)]),
                  ("senate", [("p1", 6, 2)]))]
    with running_worker(settings, tmp_path / "worker.log") as worker:
        run(replay_files(settings, [write_lines(tmp_path / "a.jsonl", early)], speed=None, max_gap=None,
                         progress=False))
        snaps = wait_for(lambda: state_results(settings) or None, 120, what="the senate snapshot", alive=worker)
        assert set(snaps) == {"e1/senate/CA/live"}, "the president's embargoed count was published"
        later = [poll("2024-11-06T04:30:00Z", ("president", [("p3", 7, 3)]))]
        run(replay_files(settings, [write_lines(tmp_path / "b.jsonl", later)], speed=None, max_gap=None,
                         progress=False))
        live = wait_for(lambda: state_results(settings).get("e1/president/CA/live"), 120,
                        what="the president after polls close", alive=worker)
    assert (live["total_votes"], live["precincts_reporting"]) == (33, 3)
    assert snaps["e1/senate/CA/live"]["total_votes"] == 8
    every = run(read_topic(settings, "state-results"))
    assert all(r.value["as_of"] >= "2024-11-06T04:00:00Z" for r in every if r.key == "e1/president/CA/live")


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
        wait_for_official(settings, worker)
    log = (tmp_path / "worker2.log").read_text(errors="replace")
    assert "restored from its checkpoint" in log
    assert "from 0 records" in log, "the restored partitions were read again from the log"
    versions = [r.value["version"] for r in run(read_topic(settings, "state-results")) if r.key == MN_PRESIDENT]
    assert versions == sorted(versions), "a version went down across the restart"
