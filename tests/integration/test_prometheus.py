"""A real Prometheus (Debian's binary) scrapes a gateway and a worker metrics port, loads our
alert rules, and answers `votewire_` queries over its HTTP API. Loopback only, temp storage."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry

from streams.gateway.examples import state_result
from streams.gateway.live import LiveResults
from streams.gateway.server import start_gateway
from streams.kafka_local import free_port
from streams.metrics import serve_metrics, worker_metrics
from streams.settings import Settings
from streams.topics import ensure_topics

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules.yml"

CONFIG = """
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["{rules}"]
scrape_configs:
  - job_name: votewire-worker
    static_configs: [{{targets: ["127.0.0.1:{worker}"]}}]
  - job_name: votewire-gateway
    static_configs: [{{targets: ["127.0.0.1:{gateway}"]}}]
"""


@pytest.fixture
def ports() -> dict[str, int]:
    return {"worker": free_port(), "gateway": free_port(), "prometheus": free_port()}


@pytest.fixture
def prometheus(tmp_path: Path, ports: dict[str, int]) -> Iterator[str]:
    exe = shutil.which("prometheus")
    if exe is None:
        pytest.fail("prometheus not found: run deploy/install-system-deps.sh")
    config = tmp_path / "prometheus.yml"
    config.write_text(CONFIG.format(rules=RULES, worker=ports["worker"], gateway=ports["gateway"]))
    log = (tmp_path / "prometheus.log").open("w")
    proc = subprocess.Popen([exe, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{ports['prometheus']}"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        yield f"http://127.0.0.1:{ports['prometheus']}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


async def query(session: aiohttp.ClientSession, base: str, promql: str) -> list[dict[str, Any]]:
    try:
        async with session.get(f"{base}/api/v1/query", params={"query": promql}) as resp:
            body = await resp.json()
    except aiohttp.ClientConnectionError:
        return []  # Prometheus still starting
    return body["data"]["result"] if body.get("status") == "success" else []


async def value_of(base: str, promql: str, want: float, deadline_s: float = 45.0) -> float:
    """Poll Prometheus until `promql` returns `want`, or fail at the deadline with the last answer."""
    last: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session:
        try:
            async with asyncio.timeout(deadline_s):
                while not (last and float(last[0]["value"][1]) == want):
                    await asyncio.sleep(0.5)
                    last = await query(session, base, promql)
        except TimeoutError:
            pytest.fail(f"{promql} never returned {want} within {deadline_s} s; last answer {last}")
    return float(last[0]["value"][1])


async def produce(settings: Settings) -> None:
    await ensure_topics(settings)
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all")
    await producer.start()
    try:
        for state in ("MN", "WI"):
            s = state_result(state)
            await producer.send_and_wait(settings.topic("state-results"), orjson.dumps(s),
                                         key=f"2024-11-05/president/{state}/live".encode())
    finally:
        await producer.stop()


def test_prometheus_scrapes_worker_and_gateway_metrics(settings: Settings, prometheus: str,
                                                       ports: dict[str, int]) -> None:
    async def scenario() -> None:
        registry = CollectorRegistry()
        metrics = worker_metrics(registry)
        for _ in range(3):
            metrics.report("applied")
        metrics.race_progress(("2024-11-05", "president", "MN", "live"), 76.4, 3100)
        await produce(settings)
        worker = await serve_metrics(f"127.0.0.1:{ports['worker']}", registry)
        gateway = await start_gateway(LiveResults(), f"127.0.0.1:{ports['gateway']}", settings)
        try:
            assert await value_of(prometheus, 'votewire_reports_total{outcome="applied"}', 3.0) == 3.0
            assert await value_of(prometheus, 'votewire_pct_expected_counted{state="MN"}', 76.4) == 76.4
            assert await value_of(prometheus, 'votewire_gateway_snapshots_held{kind="state"}', 2.0) == 2.0
            assert await value_of(prometheus, "sum(up)", 2.0) == 2.0
            assert await value_of(prometheus, "count(ALERTS) or vector(0)", 0.0) == 0.0
            await assert_rules_loaded(prometheus)
        finally:
            await gateway.cleanup()
            await worker.cleanup()

    asyncio.run(asyncio.wait_for(scenario(), 150))


async def assert_rules_loaded(base: str) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/api/v1/rules") as resp:
        groups = (await resp.json())["data"]["groups"]
    names = {rule["name"] for group in groups for rule in group["rules"]}
    assert {"VotewireWorkerDown", "VotewireNoReportsWhilePollsClosed", "VotewireSnapshotsStale"} <= names
    assert all(rule["health"] == "ok" for group in groups for rule in group["rules"])
