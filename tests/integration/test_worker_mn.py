"""The Minnesota 2024 night, end to end on the real broker: ingest, replay, worker, results.

The oracle is the official result (tests/fixtures/README.md), not the project's code:
Harris 1,656,979; Trump 1,519,032; total 3,253,920; 4,103 of 4,103 precincts.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from streams.kafka.replay import replay_files
from streams.settings import Settings
from tests.integration.harness import latest_by_key, read_topic, run, running_worker, wait_for

MN_PRESIDENT = "2024-11-05/president/MN/live"
HARRIS, TRUMP = "cand-0201", "cand-0101"
OFFICIAL = {"total_votes": 3_253_920, HARRIS: 1_656_979, TRUMP: 1_519_032, "precincts_reporting": 4103}
POLLS_CLOSE = "2024-11-06T02:00:00Z"


@pytest.fixture(scope="module")
def mn_recording(tmp_path_factory: pytest.TempPathFactory, mn_night: Path) -> Path:
    out = tmp_path_factory.mktemp("mn") / "mn-2024.jsonl.gz"
    subprocess.run([sys.executable, "-m", "streams.cli", "ingest", "mn-sos", str(mn_night),
                    "--out", str(out)], check=True, timeout=300)
    return out


def final_figures(snapshot: dict[str, Any]) -> dict[str, int]:
    votes = {c["candidate_id"]: c["votes"] for c in snapshot["candidates"]}
    return {"total_votes": snapshot["total_votes"], HARRIS: votes.get(HARRIS, 0), TRUMP: votes.get(TRUMP, 0),
            "precincts_reporting": snapshot["precincts_reporting"]}


def state_results(settings: Settings) -> dict[str, Any]:
    return latest_by_key(run(read_topic(settings, "state-results")))


def wait_for_official(settings: Settings, worker: subprocess.Popen[bytes], deadline_s: float = 240) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        snap = state_results(settings).get(MN_PRESIDENT)
        return snap if snap is not None and final_figures(snap) == OFFICIAL else None

    return wait_for(reached, deadline_s, what="MN president at the official final",
                    alive=worker)  # type: ignore[no-any-return]


def test_mn_night_replayed_at_max_ends_at_the_official_result(settings: Settings, mn_recording: Path,
                                                               tmp_path: Path) -> None:
    with running_worker(settings, tmp_path / "worker.log") as worker:
        stats = run(replay_files(settings, [mn_recording], speed=None, max_gap=None, progress=False))
        assert stats.bad_lines == 0
        final = wait_for_official(settings, worker)
    assert final["precincts_total"] == 4103
    assert final["certified"] is True
    assert final["pct_expected_counted"] == 100.0
    assert final["leader"] == HARRIS
    assert final["readout"].startswith("Harris 50.9% · Trump 46.7% · 100% of expected vote counted")
    snapshots = run(read_topic(settings, "state-results"))
    assert all(s.value["as_of"] >= POLLS_CLOSE for s in snapshots), "a snapshot escaped the embargo"
    versions = [s.value["version"] for s in snapshots if s.key == MN_PRESIDENT]
    assert versions == sorted(versions)
    alerts = [a.value for a in run(read_topic(settings, "results-alerts"))]
    decreased = [a for a in alerts if a["type"] == "count_decreased" and a["race_id"] == "president"]
    # The real correction: statewide totals fell between 17:10 and 23:10 UTC on Nov 6.
    assert any("2024-11-06T17:10" < a["at"] <= "2024-11-06T23:10:02Z" for a in decreased), decreased[:3]
    assert len({a["alert_id"] for a in alerts}) == len(alerts)
