"""Race call alerts on the real broker: with two workers, only the race's owner says a call
(streams.worker.call_alerts); a call held by the embargo when every worker stops is said once by
the worker started after them, when the count is released."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson

from streams import contract
from streams.kafka.topics import ensure_topics
from streams.settings import Settings
from tests.integration.harness import read_topic, run, running_worker, send_raw, wait_for
from tests.integration.pipeline import two_ready_workers
from tests.integration.test_estimate_alerts import DEFINITION

STATE_KEY = "2024-11-05/MN"


def define(race_id: str) -> tuple[bytes, bytes]:
    return f"2024-11-05/{race_id}/MN".encode(), orjson.dumps({**DEFINITION, "race_id": race_id})


def report(race_id: str, unit: str, reported_at: str) -> tuple[bytes, bytes]:
    return STATE_KEY.encode(), orjson.dumps({
        "schema": "precinct-result/1", "election_id": "2024-11-05", "race_id": race_id, "state": "MN",
        "county_fips": "27053", "precinct_id": unit, "seq": 0, "reported_at": reported_at,
        "votes": {"harris": 60, "trump": 40}, "complete": True})


def call(race_id: str) -> tuple[bytes, bytes]:
    race = f"2024-11-05/{race_id}/MN"
    value = contract.race_call_value(race, "live", "called", ["harris"], "AP", "2024-11-06T03:00:00Z", 1)
    return f"{race}/live".encode(), orjson.dumps(value)


def called(settings: Settings) -> list[dict[str, Any]]:
    return [r.value for r in run(read_topic(settings, contract.RESULTS_ALERTS))
            if isinstance(r.value, dict) and r.value.get("type") == "race_called"]


def test_one_race_called_from_two_workers_and_a_held_call_said_after_a_restart(settings: Settings,
                                                                                tmp_path: Path) -> None:
    run(ensure_topics(settings))
    run(send_raw(settings, contract.RACE_DEFINITIONS, [define("president"), define("senate")]))
    with two_ready_workers(settings, tmp_path) as (a, _):
        # The president's count is released (after polls close); the senate's is not.
        run(send_raw(settings, contract.PRECINCT_RESULTS, [report("president", "p1", "2024-11-06T03:00:00Z"),
                                                           report("senate", "p1", "2024-11-06T01:30:00Z")]))
        run(send_raw(settings, contract.RACE_CALLS, [call("president"), call("senate")]))
        wait_for(lambda: called(settings), 60, what="the president's race_called", alive=a)
        time.sleep(5)  # a second worker's alert, or the senate's under embargo, would be out by now
    assert [a["race_id"] for a in called(settings)] == ["president"]
    with running_worker(settings, tmp_path / "c.log") as c:
        run(send_raw(settings, contract.PRECINCT_RESULTS, [report("senate", "p2", "2024-11-06T03:00:00Z")]))
        wait_for(lambda: len(called(settings)) == 2, 90, what="the senate's held call said", alive=c)
        time.sleep(5)  # a repeat of the president's would be out by now
    said = called(settings)
    assert sorted(a["race_id"] for a in said) == ["president", "senate"], said
