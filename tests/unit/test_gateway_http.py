"""The gateway's HTTP surface with aiohttp's test client: routes, caching, 405, test mode, SSE."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import orjson
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from streams.gateway.live import LiveResults
from streams.gateway.server import build_app
from tests.support.examples import alert, county_result, state_result

MN = "/v1/results/2024-11-05/president/MN"
Scenario = Callable[[TestClient, LiveResults], Awaitable[None]]


def serve(scenario: Scenario, show_test: bool = False) -> None:
    async def main() -> None:
        live = LiveResults(show_test=show_test)
        async with TestClient(TestServer(build_app(live))) as client:
            await scenario(client, live)

    asyncio.run(asyncio.wait_for(main(), 20))


async def read_events(resp: ClientResponse, count: int) -> list[dict[str, str]]:
    """The next `count` SSE events (comments and retry lines skipped), as field dicts."""
    events: list[dict[str, str]] = []
    fields: dict[str, str] = {}
    while len(events) < count:
        line = (await asyncio.wait_for(resp.content.readline(), 5)).decode().rstrip("\n")
        if not line:
            if "event" in fields:
                events.append(fields)
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value
    return events


def test_latest_snapshot_readout_and_counties() -> None:
    async def scenario(client: TestClient, live: LiveResults) -> None:
        live.ingest("state", state_result(version=2))
        live.ingest("state", state_result(version=1, votes={"harris": 1, "trump": 5}))
        live.ingest("county", county_result("27053"))
        snap = await client.get(MN)
        assert snap.status == 200
        assert (await snap.json())["version"] == 2
        readout = await client.get(MN + "/readout")
        assert readout.content_type == "text/plain"
        assert (await readout.text()).startswith("Harris 52.2% · Trump 47.0% · 0% of expected vote counted")
        counties = await (await client.get(MN + "/counties")).json()
        assert [c["county_fips"] for c in counties["counties"]] == ["27053"]
        races = await (await client.get("/v1/races")).json()
        assert [r["state"] for r in races["races"]] == ["MN"]

    serve(scenario)


def test_unknown_race_is_404_and_bad_mode_400() -> None:
    async def scenario(client: TestClient, live: LiveResults) -> None:
        assert (await client.get("/v1/results/2024-11-05/president/ZZ")).status == 404
        assert (await client.get(MN + "?mode=staging")).status == 400
        assert (await client.get("/v1/alerts?since=yesterday")).status == 400

    serve(scenario)


def test_etag_follows_the_version_and_if_none_match_gets_304() -> None:
    async def scenario(client: TestClient, live: LiveResults) -> None:
        live.ingest("state", state_result(version=1))
        first = await client.get(MN)
        etag = first.headers["ETag"]
        assert first.headers["Cache-Control"] == "public, max-age=1"
        again = await client.get(MN, headers={"If-None-Match": etag})
        assert again.status == 304
        assert again.headers["ETag"] == etag
        live.ingest("state", state_result(version=2))
        changed = await client.get(MN, headers={"If-None-Match": etag})
        assert changed.status == 200
        assert changed.headers["ETag"] != etag
        readout = await client.get(MN + "/readout")
        assert readout.headers["ETag"] not in (etag, changed.headers["ETag"])

    serve(scenario)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_anything_but_get_head_and_options_is_405(method: str) -> None:
    async def scenario(client: TestClient, live: LiveResults) -> None:
        for path in (MN, "/v1/races", "/nowhere"):
            resp = await client.request(method, path)
            assert resp.status == 405
            assert set(resp.headers["Allow"].split(",")) == {"GET", "HEAD", "OPTIONS"}

    serve(scenario)


def test_head_works_without_a_body() -> None:
    async def scenario(client: TestClient, live: LiveResults) -> None:
        live.ingest("state", state_result())
        resp = await client.head(MN)
        assert resp.status == 200
        assert "ETag" in resp.headers

    serve(scenario)


def test_test_data_is_hidden_by_default() -> None:
    async def scenario(client: TestClient, live: LiveResults) -> None:
        live.ingest("state", state_result(mode="test"))
        live.ingest("alert", alert("t1", mode="test"))
        assert (await client.get(MN + "?mode=test")).status == 404
        assert (await (await client.get("/v1/races")).json())["races"] == []
        assert (await (await client.get("/v1/alerts")).json())["alerts"] == []

    serve(scenario)


def test_test_data_is_served_when_asked() -> None:
    async def scenario(client: TestClient, live: LiveResults) -> None:
        live.ingest("state", state_result(mode="test"))
        resp = await client.get(MN + "?mode=test")
        assert (await resp.json())["mode"] == "test"
        assert (await client.get(MN)).status == 404  # live is still live only

    serve(scenario, show_test=True)


def test_alerts_since_a_seq() -> None:
    async def scenario(client: TestClient, live: LiveResults) -> None:
        for i in range(3):
            live.ingest("alert", alert(f"a{i}"))
        body = await (await client.get("/v1/alerts?since=2")).json()
        assert [a["alert_id"] for a in body["alerts"]] == ["a2"]
        assert body["last_seq"] == 3

    serve(scenario)


def test_health_readiness_and_metrics() -> None:
    async def scenario(client: TestClient, live: LiveResults) -> None:
        assert (await client.get("/healthz")).status == 200
        assert (await client.get("/readyz")).status == 503
        live.mark_ready()
        assert (await client.get("/readyz")).status == 200
        live.ingest("state", state_result())
        await client.get(MN)
        text = await (await client.get("/metrics")).text()
        assert 'votewire_gateway_requests_total{route="/v1/results/{election}/{race}/{state}",status="200"} 1.0' in text
        assert 'votewire_gateway_snapshots_held{kind="state"} 1.0' in text
        assert "votewire_gateway_ready 1.0" in text

    serve(scenario)


def test_the_board_is_served_at_the_root() -> None:
    async def scenario(client: TestClient, live: LiveResults) -> None:
        page = await client.get("/")
        assert page.status == 200
        assert "EventSource" in await (await client.get("/static/board.js")).text()
        assert "/static/board.js" in await page.text()

    serve(scenario)


def test_stream_sends_current_state_then_live_events() -> None:
    async def scenario(client: TestClient, live: LiveResults) -> None:
        live.ingest("state", state_result(version=1))
        resp = await client.get("/v1/stream")
        assert resp.headers["Content-Type"] == "text/event-stream"
        burst = await read_events(resp, 2)
        assert [e["event"] for e in burst] == ["state", "sync"]
        assert "id" not in burst[0]
        live.ingest("state", state_result(version=2))
        (update,) = await read_events(resp, 1)
        assert orjson.loads(update["data"])["version"] == 2
        assert update["id"] == f"{live.events.run}:2"
        resp.close()

    serve(scenario)


def test_stream_resumes_after_last_event_id_without_loss() -> None:
    async def scenario(client: TestClient, live: LiveResults) -> None:
        for version in (1, 2, 3):
            live.ingest("state", state_result(version=version))
        resp = await client.get("/v1/stream", headers={"Last-Event-ID": f"{live.events.run}:1"})
        missed = await read_events(resp, 2)
        assert [orjson.loads(e["data"])["version"] for e in missed] == [2, 3]
        resp.close()

    serve(scenario)


def test_stream_kinds_filter_and_client_gauge() -> None:
    async def scenario(client: TestClient, live: LiveResults) -> None:
        resp = await client.get("/v1/stream?kinds=alert")
        await read_events(resp, 1)  # the sync
        assert live.metrics.sse_clients._value.get() == 1
        live.ingest("state", state_result())
        live.ingest("alert", alert("a1"))
        (only,) = await read_events(resp, 1)
        assert only["event"] == "alert"
        assert (await client.get("/v1/stream?kinds=nothing")).status == 400
        resp.close()

    serve(scenario)
