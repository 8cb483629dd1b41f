"""The gateway's public side: read-only, bounded requests and timeouts, CORS, slow stream clients,
and test data that no endpoint lets out (streams/gateway/guard.py, routes.py, sse.py).

Over a real socket where aiohttp's test client would hide it: oversized heads, slowloris, a
stream client that never reads. No test asserts on time; each wait has a deadline well past
the timeout under test.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import orjson
import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer

from streams.gateway import routes
from streams.gateway.guard import MAX_HEADERS, MAX_LINE_BYTES, CorsPolicy
from streams.gateway.live import LiveResults
from streams.gateway.server import build_app, serve_app
from tests.support.examples import alert, county_result, state_result

MN = "/v1/results/2024-11-05/president/MN"
DEADLINE_S = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@asynccontextmanager
async def gateway(live: LiveResults, idle_timeout_s: float = 15.0) -> AsyncIterator[str]:
    """A gateway on a real loopback port (fed by the test, not Kafka); yields host:port."""
    addr = f"127.0.0.1:{free_port()}"
    runner = await serve_app(build_app(live), addr, idle_timeout_s)
    try:
        yield addr
    finally:
        await runner.cleanup()


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), DEADLINE_S * 2))


async def raw_exchange(addr: str, request: bytes) -> bytes:
    """Send `request` as it is and read until the server closes or answers."""
    host, port = addr.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(4096), DEADLINE_S)
    writer.close()
    return answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


# --- read-only, bounded requests ----------------------------------------------------------------

@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "TRACE", "CONNECT-ISH"])
def test_every_method_but_reads_and_preflights_is_405(method: str) -> None:
    async def scenario() -> None:
        async with gateway(LiveResults()) as addr:
            answer = await raw_exchange(addr, f"{method} /v1/races HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            assert status_of(answer) in ((405,) if method != "CONNECT-ISH" else (400, 405))
            if method != "CONNECT-ISH":
                assert b"Allow: GET,HEAD,OPTIONS" in answer
                assert b"the gateway is read-only" in answer

    run(scenario)


def test_a_request_with_a_body_is_413() -> None:
    async def scenario() -> None:
        async with gateway(LiveResults()) as addr, ClientSession() as http:
            resp = await http.get(f"http://{addr}/v1/races", data=b"x" * 10)
            assert resp.status == 413
            assert "requests carry no body" in await resp.text()
            assert (await http.get(f"http://{addr}/v1/races")).status == 200

    run(scenario)


def test_a_request_target_at_the_limit_is_served_and_past_it_is_414() -> None:
    async def scenario() -> None:
        async with gateway(LiveResults()) as addr:
            def request(target_bytes: int) -> bytes:
                head = b"/v1/races?pad="
                return b"GET " + head + b"x" * (target_bytes - len(head)) + b" HTTP/1.1\r\nHost: x\r\n\r\n"

            assert status_of(await raw_exchange(addr, request(MAX_LINE_BYTES))) == 200
            answer = await raw_exchange(addr, request(MAX_LINE_BYTES + 1))
            assert status_of(answer) == 414
            assert answer.endswith(b"request target over 8190 bytes")

    run(scenario)


def test_a_header_past_the_limit_or_too_many_headers_is_431() -> None:
    async def scenario() -> None:
        async with gateway(LiveResults()) as addr:
            long_header = b"GET /v1/races HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * (MAX_LINE_BYTES + 10) + b"\r\n\r\n"
            assert status_of(await raw_exchange(addr, long_header)) == 431
            many = b"".join(b"X-H%d: 1\r\n" % i for i in range(MAX_HEADERS + 5))
            assert status_of(await raw_exchange(addr, b"GET /v1/races HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")) == 431
            few = b"".join(b"X-H%d: 1\r\n" % i for i in range(MAX_HEADERS - 2))
            assert status_of(await raw_exchange(addr, b"GET /v1/races HTTP/1.1\r\nHost: x\r\n" + few + b"\r\n")) == 200

    run(scenario)


def test_a_slowloris_that_never_finishes_its_headers_is_closed() -> None:
    """One header line a second, for ever: the connection is closed after the idle timeout."""
    async def scenario() -> None:
        async with gateway(LiveResults(), idle_timeout_s=1.0) as addr:
            host, port = addr.split(":")
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(b"GET /v1/races HTTP/1.1\r\nHost: x\r\n")
            closed = asyncio.create_task(reader.read())
            for i in range(DEADLINE_S):
                if closed.done():
                    break
                try:
                    writer.write(b"X-Slow-%d: 1\r\n" % i)
                    await writer.drain()
                except ConnectionError:
                    break
                await asyncio.sleep(1)
            assert await asyncio.wait_for(closed, DEADLINE_S) == b""  # closed without an answer
            writer.close()

    run(scenario)


def test_an_idle_connection_is_closed_and_a_fresh_one_served() -> None:
    async def scenario() -> None:
        async with gateway(LiveResults(), idle_timeout_s=1.0) as addr:
            host, port = addr.split(":")
            reader, writer = await asyncio.open_connection(host, int(port))
            assert await asyncio.wait_for(reader.read(), DEADLINE_S) == b""
            writer.close()
            assert status_of(await raw_exchange(addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) == 200

    run(scenario)


# --- CORS ---------------------------------------------------------------------------------------

Scenario = Callable[[TestClient, LiveResults], Awaitable[None]]


def serve(scenario: Scenario, cors: str = "*", show_test: bool = False) -> None:
    async def main() -> None:
        live = LiveResults(show_test=show_test)
        async with TestClient(TestServer(build_app(live, cors=CorsPolicy(cors)))) as client:
            await scenario(client, live)

    asyncio.run(asyncio.wait_for(main(), DEADLINE_S))


def test_by_default_any_origin_may_read_every_response_streams_and_errors_included() -> None:
    async def scenario(client: TestClient, live: LiveResults) -> None:
        live.ingest("state", state_result())
        for path in ("/v1/races", MN, MN + "/readout", "/v1/results/x/y/z", "/"):
            resp = await client.get(path, headers={"Origin": "https://news.example"})
            assert resp.headers["Access-Control-Allow-Origin"] == "*", path
        stream = await client.get("/v1/stream")
        assert stream.headers["Access-Control-Allow-Origin"] == "*"
        stream.close()

    serve(scenario)


def test_a_listed_origin_is_echoed_and_others_get_no_cors_header() -> None:
    async def scenario(client: TestClient, live: LiveResults) -> None:
        del live
        allowed = await client.get("/v1/races", headers={"Origin": "https://news.example"})
        assert allowed.headers["Access-Control-Allow-Origin"] == "https://news.example"
        assert allowed.headers["Vary"] == "Accept-Encoding, Origin"
        other = await client.get("/v1/races", headers={"Origin": "https://evil.example"})
        assert "Access-Control-Allow-Origin" not in other.headers
        assert other.status == 200  # CORS is the browser's rule; the data is public anyway

    serve(scenario, cors="https://news.example, https://tv.example/")


def test_preflight_names_the_read_methods_and_headers_and_none_turns_cors_off() -> None:
    async def allowed(client: TestClient, live: LiveResults) -> None:
        del live
        resp = await client.options("/v1/stream", headers={"Origin": "https://news.example",
                                                           "Access-Control-Request-Method": "GET",
                                                           "Access-Control-Request-Headers": "last-event-id"})
        assert resp.status == 204
        assert resp.headers["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"
        assert "Last-Event-ID" in resp.headers["Access-Control-Allow-Headers"]
        assert resp.headers["Access-Control-Max-Age"] == "600"

    async def off(client: TestClient, live: LiveResults) -> None:
        del live
        resp = await client.options("/v1/races", headers={"Origin": "https://news.example"})
        assert resp.status == 204
        assert "Access-Control-Allow-Origin" not in resp.headers
        assert "Access-Control-Allow-Origin" not in (await client.get("/v1/races")).headers

    serve(allowed)
    serve(off, cors="none")


# --- slow stream clients ------------------------------------------------------------------------

def test_a_stream_client_that_never_reads_is_dropped_and_fresh_clients_are_served(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routes, "SSE_WRITE_TIMEOUT_S", 1.0)
    big = {"harris": 1, "trump": 2, **{f"write-in-{i}": i for i in range(400)}}  # ~10 KB a snapshot

    async def scenario() -> None:
        live = LiveResults()
        async with gateway(live) as addr:
            host, port = addr.split(":")
            _, writer = await asyncio.open_connection(host, int(port))
            writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            writer.write(b"GET /v1/stream HTTP/1.1\r\nHost: x\r\n\r\n")  # and never read again
            dropped = live.metrics.sse_dropped.labels(reason="slow_reader")
            for version in range(1, DEADLINE_S * 10):
                if dropped._value.get() >= 1:
                    break
                live.ingest("state", state_result(version=version, votes=big))
                await asyncio.sleep(0.1)
            assert dropped._value.get() == 1
            assert not live.events.subscribers
            async with ClientSession() as http:
                assert (await http.get(f"http://{addr}{MN}")).status == 200
            writer.close()

    run(scenario)


# --- test data never leaves -----------------------------------------------------------------------

def test_test_data_comes_out_of_no_endpoint_stream_or_board() -> None:
    """Test-mode snapshots, counties and alerts (design rule 6), before and after a client connects."""
    async def scenario(client: TestClient, live: LiveResults) -> None:
        live.ingest("state", state_result("CA", mode="test"))
        live.ingest("county", county_result("06037", "CA", mode="test"))
        live.ingest("alert", alert("t1", "CA", mode="test", message="TESTDATA lead change"))
        stream = await client.get("/v1/stream")
        live.ingest("state", state_result("WI", version=3, mode="test"))
        live.ingest("alert", alert("t2", "WI", mode="test", message="TESTDATA again"))
        live.ingest("state", state_result("MN"))  # one live snapshot, so the stream has something to send
        bodies = [await (await client.get(path)).read() for path in (
            "/v1/races", "/v1/alerts", "/v1/alerts?since=0", "/",
            "/v1/results/2024-11-05/president/CA?mode=test", "/v1/results/2024-11-05/president/CA",
            "/v1/results/2024-11-05/president/CA/counties?mode=test",
            "/v1/results/2024-11-05/president/CA/readout?mode=test", "/metrics")]
        stream_bytes = b""
        while b'"state":"MN"' not in stream_bytes:
            stream_bytes += await asyncio.wait_for(stream.content.readany(), 5)
        stream.close()
        resync = await client.get("/v1/stream")
        resync_bytes = b""
        while b"event: sync" not in resync_bytes:
            resync_bytes += await asyncio.wait_for(resync.content.readany(), 5)
        resync.close()
        for body in [*bodies, stream_bytes, resync_bytes]:
            assert b'"mode":"test"' not in body
            assert b"TESTDATA" not in body
            assert b'"state":"CA"' not in body
            assert b'"state":"WI"' not in body
        assert orjson.loads(bodies[0])["races"][0]["state"] == "MN"

    serve(scenario)
