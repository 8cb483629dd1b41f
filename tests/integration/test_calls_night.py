"""Race calls on the real broker.

A simulated night with calls (`simulate --preset tiny-ga --calls`: AP's and the desk's calls, a
retraction, a runoff in Georgia, vote-for-2 county contests) replayed through a worker ends with
every race's snapshot carrying the truth's final call and status, and the alerts that go with it;
the desk's `votewire call` then retracts one call, and a call for a candidate the race does not
have is a dead letter. The recorded AP night (Alaska 2012) ingested to Kafka brings AP's call
of Romney through the adapter into its snapshot.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from streams import contract
from streams.kafka.replay import replay_files
from streams.settings import Settings
from tests.integration.harness import latest_by_key, read_topic, run, running_worker, votewire_env, wait_for
from tests.integration.test_simulated_night import expected, figures

AP_ALASKA = Path(__file__).resolve().parents[1] / "fixtures" / "ap" / "20121106_ak_prez.json"


def votewire(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], env=votewire_env(settings),
                          capture_output=True, text=True, timeout=300, check=False)


def final_state(snapshot: dict[str, Any]) -> dict[str, Any]:
    call = snapshot["call"] or {}
    return {**figures(snapshot), "call": {k: call.get(k) for k in ("status", "winners", "by")},
            "tabulation_status": snapshot["tabulation_status"], "seats": snapshot["seats"]}


def truth_state(race: dict[str, Any]) -> dict[str, Any]:
    return {**expected(race), "call": race["call"], "tabulation_status": race["tabulation_status"],
            "seats": race.get("seats", 1)}


def states(settings: Settings) -> dict[str, Any]:
    return latest_by_key(run(read_topic(settings, contract.STATE_RESULTS)))


def alerts(settings: Settings) -> list[dict[str, Any]]:
    return [r.value for r in run(read_topic(settings, contract.RESULTS_ALERTS)) if isinstance(r.value, dict)]


def test_a_night_with_calls_a_retraction_and_a_runoff_ends_with_the_right_calls(settings: Settings,
                                                                                tmp_path: Path) -> None:
    night = tmp_path / "night.jsonl.gz"
    made = votewire(settings, "simulate", "--preset", "tiny-ga", "--seed", "11", "--calls", "--jobs", "1",
                    "--out", str(night))
    assert made.returncode == 0, made.stderr
    truth = orjson.loads(Path(f"{night}.truth.json").read_bytes())["races"]
    want = {key: truth_state(race) for key, race in truth.items()}

    def ended() -> dict[str, Any] | None:
        got = states(settings)
        return got if all(k in got and final_state(got[k]) == w for k, w in want.items()) else None

    with running_worker(settings, tmp_path / "worker.log") as worker:
        run(replay_files(settings, [night], speed=None, max_gap=None, progress=False), 300)
        final = wait_for(ended, 300, what="every race's final call and status", alive=worker)
        check_the_nights_alerts(settings, truth)
        runoff = final["2024-11-05/special-superintendent/GA/live"]
        assert runoff["readout"].endswith(" · headed to a runoff")
        commission = final["2024-11-05/commission-at-large-13001/GA/live"]
        assert commission["leaders"] == truth["2024-11-05/commission-at-large-13001/GA/live"]["call"]["winners"]
        check_the_desk_retracts_and_a_bad_call_is_a_dead_letter(settings, worker)


def check_the_nights_alerts(settings: Settings, truth: dict[str, Any]) -> None:
    def enough() -> list[dict[str, Any]] | None:
        got = alerts(settings)
        called = sum(a["type"] == "race_called" for a in got) >= len(truth) + 1
        return got if called and any(a["type"] == "runoff_likely" for a in got) else None

    got = wait_for(enough, 60, what="a race_called alert per race (and one more after the retraction), "
                                    "and runoff_likely")
    by_type: dict[str, list[dict[str, Any]]] = {}
    for a in got:
        by_type.setdefault(a["type"], []).append(a)
    [retracted] = by_type["call_retracted"]
    assert (retracted["severity"], retracted["race_id"], retracted["state"]) == ("critical", "president", "DE")
    assert len(by_type["race_called"]) == len(truth) + 1  # the retracted race was called twice
    assert len({a["alert_id"] for a in by_type["race_called"]}) == len(truth) + 1
    assert {(a["race_id"], a["state"]) for a in by_type["runoff_likely"]} == {("special-superintendent", "GA")}


def check_the_desk_retracts_and_a_bad_call_is_a_dead_letter(settings: Settings, worker: Any) -> None:
    race = "2024-11-05/senate/DE"
    retracted = votewire(settings, "call", race, "--retract", "--by", "Votewire Desk")
    assert retracted.returncode == 0, retracted.stderr
    assert retracted.stdout.startswith(f"call: {race} (live) retracted by Votewire Desk")
    wait_for(lambda: (states(settings)[f"{race}/live"]["call"] or {}).get("status") == "retracted", 60,
             what="the desk's retraction in the snapshot", alive=worker)
    unknown = votewire(settings, "call", race, "--winner", "nobody")
    assert unknown.returncode == 0, unknown.stderr  # the command cannot know the book: the worker says

    def dead() -> list[Any]:
        return [r for r in run(read_topic(settings, contract.DEAD_LETTERS))
                if r.headers.get("votewire-error") == b"unknown_candidate"]

    [letter] = wait_for(dead, 60, what="the call for an unknown candidate as a dead letter", alive=worker)
    assert b"'nobody', who is not a candidate of 2024-11-05/senate/DE" in letter.headers["votewire-reason"]
    assert (states(settings)[f"{race}/live"]["call"] or {}).get("status") == "retracted"  # unchanged


def test_the_recorded_ap_night_brings_aps_call_through_the_adapter(settings: Settings, tmp_path: Path) -> None:
    with running_worker(settings, tmp_path / "worker.log") as worker:
        ingested = votewire(settings, "ingest", "ap", str(AP_ALASKA), "--to-kafka")
        assert ingested.returncode == 0, ingested.stderr

        def called() -> dict[str, Any] | None:
            snapshot = states(settings).get("2012-11-06/0/AK/live")
            return snapshot if snapshot is not None and snapshot["call"] is not None else None

        snapshot = wait_for(called, 120, what="Alaska's snapshot with AP's call", alive=worker)
    assert snapshot["call"] == {"status": "called", "winners": ["893"], "by": "AP", "at": "2016-06-24T18:24:19Z"}
    romney = snapshot["candidates"][0]
    assert (romney["candidate_id"], romney["name"]) == ("893", "Mitt Romney")
    obama = next(c for c in snapshot["candidates"] if c["candidate_id"] == "1918")
    assert obama["incumbent"] is True
    [alert] = [a for a in alerts(settings) if a["type"] == "race_called"]
    assert alert["message"] == "AP called AK 0 (live) for Romney."
