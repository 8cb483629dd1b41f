"""A real Prometheus (Debian's binary) scrapes a live `votewire worker` and `votewire gateway`
(child processes on the session broker) while the bundled Minnesota 2024 night is replayed
into them, loads our alert rules, and answers `votewire_` queries over its HTTP API.
Loopback only, temp storage, every process stopped at the end.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from streams.localkafka.kafka_local import free_port
from streams.settings import Settings
from tests.integration.harness import stop_process
from tests.integration.pipeline import live_pipeline, recorded_reports, replay_mn_night

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules.yml"

CONFIG = """
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["{rules}"]
scrape_configs:
  - job_name: votewire-worker
    static_configs: [{{targets: ["{worker}"]}}]
  - job_name: votewire-gateway
    static_configs: [{{targets: ["{gateway}"]}}]
"""

APPLIED = 'votewire_reports_total{job="votewire-worker", outcome="applied"}'
MN_PRESIDENT_COUNTED = 'votewire_pct_expected_counted{job="votewire-worker", race="president", state="MN", mode="live"}'
GATEWAY_STATES_HELD = 'votewire_gateway_snapshots_held{job="votewire-gateway", kind="state"}'


@pytest.fixture
def addrs() -> dict[str, str]:
    return {name: f"127.0.0.1:{free_port()}" for name in ("worker", "gateway", "prometheus")}


@pytest.fixture
def prometheus(tmp_path: Path, addrs: dict[str, str]) -> Iterator[str]:
    exe = shutil.which("prometheus")
    if exe is None:
        pytest.fail("prometheus not found: run deploy/install-system-deps.sh")
    config = tmp_path / "prometheus.yml"
    config.write_text(CONFIG.format(rules=RULES, worker=addrs["worker"], gateway=addrs["gateway"]))
    with (tmp_path / "prometheus.log").open("wb") as log:
        proc = subprocess.Popen([exe, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                 f"--web.listen-address={addrs['prometheus']}"],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        yield f"http://{addrs['prometheus']}"
    finally:
        stop_process(proc)


async def query(session: aiohttp.ClientSession, base: str, promql: str) -> list[dict[str, Any]]:
    try:
        async with session.get(f"{base}/api/v1/query", params={"query": promql}) as resp:
            body = await resp.json()
    except aiohttp.ClientConnectionError:
        return []  # Prometheus still starting
    return body["data"]["result"] if body.get("status") == "success" else []


async def value_of(base: str, promql: str, wanted: Callable[[float], bool], deadline_s: float = 60.0) -> float:
    """Poll Prometheus until `promql` returns a value that is `wanted`, or fail at the deadline
    with the last answer."""
    last: list[dict[str, Any]] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        try:
            async with asyncio.timeout(deadline_s):
                while not (last and wanted(float(last[0]["value"][1]))):
                    await asyncio.sleep(0.5)
                    last = await query(session, base, promql)
        except TimeoutError:
            pytest.fail(f"{promql} never gave a wanted value within {deadline_s} s; last answer {last}")
    return float(last[0]["value"][1])


def equals(want: float) -> Callable[[float], bool]:
    return lambda value: value == want


# Inside the five minutes a test may take: starting the pipeline, the night, the checks.
@pytest.mark.timeout(290)
def test_prometheus_scrapes_a_live_worker_and_gateway_during_a_replay(settings: Settings, prometheus: str,
                                                                     addrs: dict[str, str], tmp_path: Path) -> None:
    reports = recorded_reports()

    async def scenario() -> bool:
        # Both targets scraped before the night starts, so the scrapes cover the whole replay.
        assert await value_of(prometheus, "sum(up)", equals(2.0), deadline_s=90) == 2.0
        night = asyncio.create_task(replay_mn_night(settings))
        try:
            assert await value_of(prometheus, APPLIED, lambda v: v > 0, deadline_s=90) > 0
            applied_during_replay = not night.done()
            stats = await asyncio.wait_for(night, 120)
        finally:
            night.cancel()
        assert stats.bad_lines == 0
        # Every precinct report of the night is a new seq for its county: all are applied, once.
        assert await value_of(prometheus, APPLIED, equals(reports), deadline_s=120) == reports
        # The certified final: 100% of the expected vote counted.
        assert await value_of(prometheus, MN_PRESIDENT_COUNTED, equals(100.0), deadline_s=60) == 100.0
        # The gateway holds the two live Minnesota races of the night: president and senate.
        assert await value_of(prometheus, GATEWAY_STATES_HELD, equals(2.0), deadline_s=60) == 2.0
        assert await value_of(prometheus, 'votewire_gateway_ready{job="votewire-gateway"}', equals(1.0)) == 1.0
        assert await value_of(prometheus, "sum(up)", equals(2.0)) == 2.0
        assert await value_of(prometheus, 'count(ALERTS{alertstate="firing"}) or vector(0)', equals(0.0)) == 0.0
        await assert_rules_loaded(prometheus)
        return applied_during_replay

    with live_pipeline(settings, tmp_path, worker_addr=addrs["worker"], gateway_addr=addrs["gateway"]):
        applied_during_replay = asyncio.run(asyncio.wait_for(scenario(), 270))
    assert applied_during_replay, "Prometheus saw applied reports only after the replay had ended"


async def assert_rules_loaded(base: str) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session, \
            session.get(f"{base}/api/v1/rules") as resp:
        groups = (await resp.json())["data"]["groups"]
    names = {rule["name"] for group in groups for rule in group["rules"]}
    assert {"VotewireWorkerDown", "VotewireNoReportsWhilePollsClosed", "VotewireSnapshotsStale"} <= names
    assert all(rule["health"] == "ok" for group in groups for rule in group["rules"])
