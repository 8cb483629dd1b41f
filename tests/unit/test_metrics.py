"""The metrics factory: stable names, zeroed series, and the private metrics port."""

from __future__ import annotations

import asyncio
import math

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from streams.metrics import (
    REPORT_OUTCOMES,
    gateway_metrics,
    metrics_app,
    serve_metrics,
    worker_metrics,
)


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_report_outcomes_exist_at_zero_before_any_report() -> None:
    registry = CollectorRegistry()
    worker_metrics(registry)
    for outcome in REPORT_OUTCOMES:
        assert value(registry, "votewire_reports_total", outcome=outcome) == 0.0
    assert value(registry, "votewire_snapshots_published_total", kind="county") == 0.0


def test_worker_metrics_record_under_their_contract_names() -> None:
    registry = CollectorRegistry()
    m = worker_metrics(registry)
    m.report("applied")
    m.dead_letters.labels(topic="precinct-results", error="not_json").inc()
    m.report_seconds.observe(0.0004)
    m.alerts.labels(type="lead_change").inc()
    m.race_progress(("2024-11-05", "president", "MN", "live"), 76.0, 3000)
    m.last_report_ts.set(1730869200)
    assert value(registry, "votewire_reports_total", outcome="applied") == 1.0
    assert value(registry, "votewire_dead_letters_total", topic="precinct-results", error="not_json") == 1.0
    assert value(registry, "votewire_report_processing_seconds_bucket", le="0.0005") == 1.0
    assert value(registry, "votewire_alerts_total", type="lead_change") == 1.0
    labels = {"election": "2024-11-05", "race": "president", "state": "MN", "mode": "live"}
    assert value(registry, "votewire_pct_expected_counted", **labels) == 76.0
    assert value(registry, "votewire_precincts_reporting", **labels) == 3000.0
    assert value(registry, "votewire_last_report_timestamp_seconds") == 1730869200.0


def test_unknown_percent_counted_is_nan_not_zero() -> None:
    registry = CollectorRegistry()
    worker_metrics(registry).race_progress(("e", "r", "MN", "live"), None, 0)
    pct = value(registry, "votewire_pct_expected_counted", election="e", race="r", state="MN", mode="live")
    assert pct is not None
    assert math.isnan(pct)


def test_publish_histogram_has_an_edge_at_the_default_publish_interval() -> None:
    registry = CollectorRegistry()
    worker_metrics(registry).publish_seconds.observe(0.2)
    assert value(registry, "votewire_snapshot_publish_seconds_bucket", le="0.25") == 1.0


def test_worker_and_gateway_metrics_share_one_registry() -> None:
    registry = CollectorRegistry()
    worker_metrics(registry)
    gateway_metrics(registry).sse_clients.inc()
    assert value(registry, "votewire_gateway_sse_clients") == 1.0


def test_metrics_app_serves_metrics_and_health_only() -> None:
    async def scenario() -> None:
        registry = CollectorRegistry()
        worker_metrics(registry).report("stale")
        async with TestClient(TestServer(metrics_app(registry))) as client:
            metrics = await client.get("/metrics")
            assert metrics.status == 200
            assert 'votewire_reports_total{outcome="stale"} 1.0' in await metrics.text()
            assert (await client.get("/healthz")).status == 200
            assert (await client.get("/tables")).status == 404

    asyncio.run(scenario())


def test_serve_metrics_listens_on_the_given_loopback_address() -> None:
    from aiohttp import ClientSession

    from streams.localkafka.kafka_local import free_port

    async def scenario() -> None:
        registry = CollectorRegistry()
        worker_metrics(registry)
        port = free_port()
        runner = await serve_metrics(f"127.0.0.1:{port}", registry)
        try:
            async with ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as resp:
                assert "votewire_reports_total" in await resp.text()
        finally:
            await runner.cleanup()

    asyncio.run(asyncio.wait_for(scenario(), 10))
