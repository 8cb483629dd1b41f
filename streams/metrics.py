"""Prometheus metrics for the worker and the gateway, built by factories that take a registry.

Tests pass a fresh `CollectorRegistry()`; processes pass `prometheus_client.REGISTRY` (or their
own). The names below are a contract with `deploy/prometheus/rules.yml` and the Grafana
dashboard: rename one and both break silently, so keep them stable.

Worker (`worker_metrics(registry) -> WorkerMetrics`), served on the private
`VOTEWIRE_WORKER_WEB_ADDR` port by `serve_metrics`:

| attribute | metric | labels |
|---|---|---|
| reports | `votewire_reports_total` counter | outcome = applied, duplicate, stale, dead_letter |
| dead_letters | `votewire_dead_letters_total` counter | topic, error (the `votewire-error` class) |
| report_seconds | `votewire_report_processing_seconds` histogram (one input record: a report, a batch or a poll) | |
| publish_seconds | `votewire_snapshot_publish_seconds` histogram | |
| alerts | `votewire_alerts_total` counter | type |
| snapshots | `votewire_snapshots_published_total` counter | kind = state, county |
| pct_counted | `votewire_pct_expected_counted` gauge | election, race, state, mode |
| precincts_reporting | `votewire_precincts_reporting` gauge | election, race, state, mode |
| consumer_lag | `votewire_consumer_lag` gauge (records) | topic, partition |
| last_report_ts | `votewire_last_report_timestamp_seconds` gauge (source time) | |
| races_polls_closed | `votewire_races_polls_closed` gauge | |
| embargoed | `votewire_embargoed_snapshots` gauge | |
| calls_waiting | `votewire_race_calls_waiting` gauge (race calls waiting for their race's definition) | |
| task_failures | `votewire_task_failures_total` counter | task (a timer or task that raised and carried on) |
| model_runs | `votewire_model_runs_total` counter (the model of the vote still out) | outcome = estimate, no_estimate |
| model_seconds | `votewire_model_seconds` histogram (one run, for one race) | |
| model_units_used | `votewire_model_units_used` gauge (units it stood on, latest run) | election, race, state, mode |

`votewire_races_polls_closed` is the number of live race/states whose polls have closed by
source time and that are not certified: the ones that should be reporting. The "no reports"
alert needs it, and only the worker knows it.

Gateway (`gateway_metrics(registry) -> GatewayMetrics`), on the gateway's own `/metrics`:
`votewire_gateway_requests_total{route,status}`, `votewire_gateway_sse_clients`,
`votewire_gateway_snapshots_held{kind}` (state, county), `votewire_gateway_events_total{kind}`
(state, county, alert) and `votewire_gateway_ready` (1 once caught up with the topics).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from streams.contract import TallyKey
from streams.settings import split_addr

REPORT_OUTCOMES = ("applied", "duplicate", "stale", "dead_letter")
SNAPSHOT_KINDS = ("state", "county")
MODEL_OUTCOMES = ("estimate", "no_estimate")

# Taking one record is decoding it and applying its reports in memory: tens of microseconds
# for a single report, a few ms for a feed poll's batch of hundreds. The buckets are dense
# from 0.25 ms to 10 ms to see that, then coarse up to 2.5 s, where a stall shows up.
REPORT_PROCESSING_BUCKETS = (0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5)
# Publishing a snapshot is a produce round trip to the broker (acks from the leader): a few
# ms on a LAN. 0.25 s is the default publish interval: a publish slower than that means
# snapshots fall behind the count, so there is a bucket edge exactly there.
SNAPSHOT_PUBLISH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)
# One run of the model is arithmetic over a race's units (streams/model/estimate.py): well under
# a millisecond on a county map (~100 units), tens to hundreds of ms for a precinct-level state
# (10,000-25,000 units). It runs in the publish round, so the edge that matters is the publish
# interval (0.25 s by default): a race whose run takes longer slows its own snapshots.
MODEL_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

RACE_LABELS = ("election", "race", "state", "mode")


@dataclass(frozen=True)
class WorkerMetrics:
    reports: Counter
    dead_letters: Counter
    report_seconds: Histogram
    publish_seconds: Histogram
    alerts: Counter
    snapshots: Counter
    pct_counted: Gauge
    precincts_reporting: Gauge
    consumer_lag: Gauge
    last_report_ts: Gauge
    races_polls_closed: Gauge
    embargoed: Gauge
    calls_waiting: Gauge
    task_failures: Counter
    model_runs: Counter
    model_seconds: Histogram
    model_units_used: Gauge

    def report(self, outcome: str) -> None:
        """Count one precinct report by what happened to it (one of `REPORT_OUTCOMES`)."""
        self.reports.labels(outcome=outcome).inc()

    def race_progress(self, key: tuple[str, str, str, str], pct_counted: float | None, precincts: int) -> None:
        """Set the per-race gauges; `key` is (election, race, state, mode). NaN when unknown."""
        self.pct_counted.labels(*key).set(float("nan") if pct_counted is None else pct_counted)
        self.precincts_reporting.labels(*key).set(precincts)

    def model_run(self, key: TallyKey, outcome: str, seconds: float, units_used: int) -> None:
        """One run of the model for a race (streams.counting.projection.RaceModels.observe)."""
        self.model_runs.labels(outcome=outcome).inc()
        self.model_seconds.observe(seconds)
        self.model_units_used.labels(key.election_id, key.race_id, key.state, key.mode).set(units_used)


def worker_metrics(registry: CollectorRegistry) -> WorkerMetrics:
    metrics = WorkerMetrics(
        reports=Counter("votewire_reports_total", "Precinct reports by outcome", ["outcome"], registry=registry),
        dead_letters=Counter("votewire_dead_letters_total", "Records sent to dead-letters",
                             ["topic", "error"], registry=registry),
        report_seconds=Histogram("votewire_report_processing_seconds",
                                 "Time to take one input record (a report, a batch or a poll)",
                                 buckets=REPORT_PROCESSING_BUCKETS, registry=registry),
        publish_seconds=Histogram("votewire_snapshot_publish_seconds", "Time to publish one snapshot",
                                  buckets=SNAPSHOT_PUBLISH_BUCKETS, registry=registry),
        alerts=Counter("votewire_alerts_total", "Alerts raised by type", ["type"], registry=registry),
        snapshots=Counter("votewire_snapshots_published_total", "Snapshots published", ["kind"], registry=registry),
        pct_counted=Gauge("votewire_pct_expected_counted", "Percent of expected vote counted",
                          RACE_LABELS, registry=registry),
        precincts_reporting=Gauge("votewire_precincts_reporting", "Precincts reporting", RACE_LABELS,
                                  registry=registry),
        consumer_lag=Gauge("votewire_consumer_lag", "Records behind the end of the partition",
                           ["topic", "partition"], registry=registry),
        last_report_ts=Gauge("votewire_last_report_timestamp_seconds",
                             "Source time (reported_at) of the latest applied report", registry=registry),
        races_polls_closed=Gauge("votewire_races_polls_closed",
                                 "Live race/states past polls_close (source time), not certified", registry=registry),
        embargoed=Gauge("votewire_embargoed_snapshots", "Snapshots held back until polls close", registry=registry),
        calls_waiting=Gauge("votewire_race_calls_waiting", "Race calls read before their race's definition, waiting",
                            registry=registry),
        task_failures=Counter("votewire_task_failures_total", "Worker timers and tasks that raised and carried on",
                              ["task"], registry=registry),
        model_runs=Counter("votewire_model_runs_total", "Runs of the model of the vote still out, by outcome",
                           ["outcome"], registry=registry),
        model_seconds=Histogram("votewire_model_seconds", "Time of one run of the model, for one race",
                                buckets=MODEL_BUCKETS, registry=registry),
        model_units_used=Gauge("votewire_model_units_used", "Fully reported units with a baseline the model stood on",
                               RACE_LABELS, registry=registry),
    )
    # Zero series from the start: rate() over a counter that appears only at its first
    # increment misses that increment, and alert rules need the series to exist.
    for outcome in REPORT_OUTCOMES:
        metrics.reports.labels(outcome=outcome)
    for kind in SNAPSHOT_KINDS:
        metrics.snapshots.labels(kind=kind)
    for outcome in MODEL_OUTCOMES:
        metrics.model_runs.labels(outcome=outcome)
    return metrics


@dataclass(frozen=True)
class GatewayMetrics:
    requests: Counter
    sse_clients: Gauge
    sse_dropped: Counter
    snapshots_held: Gauge
    events: Counter
    ready: Gauge


def gateway_metrics(registry: CollectorRegistry) -> GatewayMetrics:
    return GatewayMetrics(
        requests=Counter("votewire_gateway_requests_total", "HTTP requests by route and status",
                         ["route", "status"], registry=registry),
        sse_clients=Gauge("votewire_gateway_sse_clients", "Connected /v1/stream clients", registry=registry),
        sse_dropped=Counter("votewire_gateway_sse_dropped_total",
                            "/v1/stream clients cut off: too far behind, or a write not taken within the timeout",
                            ["reason"], registry=registry),
        snapshots_held=Gauge("votewire_gateway_snapshots_held", "Latest snapshots held", ["kind"], registry=registry),
        events=Counter("votewire_gateway_events_total", "Snapshots and alerts received", ["kind"], registry=registry),
        ready=Gauge("votewire_gateway_ready", "1 once caught up with the topics' end offsets", registry=registry),
    )


def metrics_handler(registry: CollectorRegistry) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle_metrics(request: web.Request) -> web.Response:
        del request
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return handle_metrics


async def handle_healthz(request: web.Request) -> web.Response:
    del request
    return web.Response(text="ok\n")


def readiness_handler(ready: Callable[[], bool]) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle_readyz(request: web.Request) -> web.Response:
        del request
        return web.Response(text="ready\n") if ready() else web.Response(status=503, text="not ready\n")

    return handle_readyz


def metrics_app(registry: CollectorRegistry) -> web.Application:
    """/metrics and /healthz, nothing else (design rule 8: no table pages on the worker port)."""
    app = web.Application()
    app.router.add_get("/metrics", metrics_handler(registry))
    app.router.add_get("/healthz", handle_healthz)
    return app


async def serve_metrics(addr: str, registry: CollectorRegistry,
                        ready: Callable[[], bool] | None = None) -> web.AppRunner:
    """Serve `metrics_app` on `addr` (host:port, loopback by default); `await runner.cleanup()` stops it.

    With `ready`, also `/readyz`: 200 when it returns True, else 503 (a worker is ready once it
    has caught up with the race book and is consuming reports)."""
    host, port = split_addr(addr, "VOTEWIRE_WORKER_WEB_ADDR")
    app = metrics_app(registry)
    if ready is not None:
        app.router.add_get("/readyz", readiness_handler(ready))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
