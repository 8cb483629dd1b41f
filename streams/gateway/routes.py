"""The gateway's HTTP API: read-only JSON, a text readout, SSE, health and metrics.

Every public read is cacheable for a second with an ETag, so a CDN can front the gateway on an
election night: single snapshots are tagged by key and version (a newer snapshot always has a
higher version), collections by a hash of their body.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator

import orjson
from aiohttp import web

from streams.gateway.live import LiveResults
from streams.gateway.sse import WRITE_CHUNK_BYTES, Event, Subscriber
from streams.gateway.store import Message, RaceKey
from streams.metrics import metrics_handler

LIVE: web.AppKey[LiveResults] = web.AppKey("live", LiveResults)
PUBLIC_CACHE = "public, max-age=1"
SSE_KINDS = frozenset({"state", "county", "alert"})
HEARTBEAT_S = 15.0
# A stream write the client has not taken (its socket buffers full) within this long drops the
# client: one that stopped reading must not hold its connection and buffers for ever.
SSE_WRITE_TIMEOUT_S = 10.0
# The kernel's send buffer for a stream socket, capped: left to autotune it grows to megabytes
# (net.ipv4.tcp_wmem), which a thousand clients that stopped reading would hold in kernel memory
# long before the write timeout could notice them.
SSE_SEND_BUFFER_BYTES = 128 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = logging.getLogger(__name__)


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def snapshot_etag(key: RaceKey, version: int, suffix: str = "") -> str:
    digest = hashlib.sha256(f"{key}{suffix}".encode()).hexdigest()[:16]
    return f'"{digest}-v{version}"'


def cached(request: web.Request, body: bytes, content_type: str, etag: str | None = None) -> web.Response:
    """A public, briefly cacheable response; 304 when the client already has this ETag."""
    etag = etag or etag_of(body)
    headers = {"Cache-Control": PUBLIC_CACHE, "ETag": etag, "Vary": "Accept-Encoding"}
    if etag_matches(request.headers.get("If-None-Match", ""), etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type=content_type, charset="utf-8", headers=headers)


def etag_matches(if_none_match: str, etag: str) -> bool:
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


def cached_json(request: web.Request, message: object, etag: str | None = None) -> web.Response:
    return cached(request, orjson.dumps(message), "application/json", etag)


def key_of(request: web.Request) -> RaceKey:
    mode = request.query.get("mode", "live")
    if mode not in ("live", "test"):
        raise web.HTTPBadRequest(text="mode must be live or test\n")
    m = request.match_info
    return RaceKey(m["election"], m["race"], m["state"], mode)


def snapshot_for(request: web.Request) -> tuple[RaceKey, Message]:
    key = key_of(request)
    snapshot = request.app[LIVE].store.state(key)
    if snapshot is None:
        raise web.HTTPNotFound(text=f"no results for {key}\n")
    return key, snapshot


async def get_races(request: web.Request) -> web.Response:
    return cached_json(request, {"races": request.app[LIVE].store.races()})


async def get_result(request: web.Request) -> web.Response:
    key, snapshot = snapshot_for(request)
    return cached_json(request, snapshot, snapshot_etag(key, snapshot["version"]))


async def get_readout(request: web.Request) -> web.Response:
    key, snapshot = snapshot_for(request)
    body = f"{snapshot.get('readout', '')}\n".encode()
    return cached(request, body, "text/plain", snapshot_etag(key, snapshot["version"], "/readout"))


async def get_counties(request: web.Request) -> web.Response:
    key = key_of(request)
    return cached_json(request, {"counties": request.app[LIVE].store.counties_of(key)})


async def get_alerts(request: web.Request) -> web.Response:
    store = request.app[LIVE].store
    try:
        alerts = store.alerts_since(request.query.get("since"))
    except ValueError as e:
        raise web.HTTPBadRequest(text=f"{e}\n") from None
    return cached_json(request, {"alerts": alerts, "last_seq": store.alert_seq})


async def get_healthz(request: web.Request) -> web.Response:
    del request
    return web.Response(text="ok\n", headers={"Cache-Control": "no-store"})


async def get_readyz(request: web.Request) -> web.Response:
    ready = request.app[LIVE].ready
    return web.Response(status=200 if ready else 503, text="ready\n" if ready else "catching up\n",
                        headers={"Cache-Control": "no-store"})


def stream_kinds(request: web.Request) -> frozenset[str]:
    asked = request.query.get("kinds")
    kinds = frozenset(asked.split(",")) & SSE_KINDS if asked else SSE_KINDS
    if not kinds:
        raise web.HTTPBadRequest(text="kinds is a comma-separated subset of state,county,alert\n")
    return kinds


async def get_stream(request: web.Request) -> web.StreamResponse:
    """`/v1/stream[?kinds=state,alert]`: Server-Sent Events, resumable with Last-Event-ID."""
    live = request.app[LIVE]
    last_id = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
    backlog, subscriber = live.events.subscribe(last_id, stream_kinds(request), live.current_events)
    live.metrics.sse_clients.inc()
    try:
        cap_send_buffer(request)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                               "X-Accel-Buffering": "no"})
        await response.prepare(request)
        run = live.events.run
        await write_or_drop(response, b"retry: 2000\n\n")
        for chunk in chunks(backlog, run):  # a resync burst can run to megabytes: a chunk at a time
            await write_or_drop(response, chunk)
        await follow(response, subscriber, run)
        if subscriber.cut_off:
            drop_client(request, "too_far_behind")
    except ConnectionResetError:  # the client went away: the normal end of a stream
        pass
    except SlowReader:
        drop_client(request, "slow_reader")
    finally:
        live.events.unsubscribe(subscriber)
        live.metrics.sse_clients.dec()
    return response


def cap_send_buffer(request: web.Request) -> None:
    sock = request.transport.get_extra_info("socket") if request.transport is not None else None
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SSE_SEND_BUFFER_BYTES)


class SlowReader(Exception):
    """A stream write was not taken within SSE_WRITE_TIMEOUT_S."""


async def write_or_drop(response: web.StreamResponse, chunk: bytes) -> None:
    try:
        await asyncio.wait_for(response.write(chunk), SSE_WRITE_TIMEOUT_S)
    except TimeoutError:
        raise SlowReader from None


def drop_client(request: web.Request, reason: str) -> None:
    """Cut a stream client off: its buffered bytes are discarded (abort), not flushed."""
    log.info("dropping /v1/stream client %s: %s", request.remote, reason.replace("_", " "))
    request.app[LIVE].metrics.sse_dropped.labels(reason=reason).inc()
    if request.transport is not None:
        request.transport.abort()


def chunks(events: list[Event], run: str, max_bytes: int = WRITE_CHUNK_BYTES) -> Iterator[bytes]:
    """The events' wire bytes, joined into chunks of about `max_bytes`."""
    chunk: list[bytes] = []
    size = 0
    for ev in events:
        wire = ev.encode(run)
        chunk.append(wire)
        size += len(wire)
        if size >= max_bytes:
            yield b"".join(chunk)
            chunk, size = [], 0
    if chunk:
        yield b"".join(chunk)


async def follow(response: web.StreamResponse, subscriber: Subscriber, run: str) -> None:
    while not subscriber.closed:
        if not await subscriber.wait(HEARTBEAT_S):
            await write_or_drop(response, b": keepalive\n\n")  # keeps proxies from closing an idle stream
            continue
        pending = subscriber.take()
        if pending:
            await write_or_drop(response, b"".join(ev.encode(run) for ev in pending))


def add_routes(app: web.Application, live: LiveResults) -> None:
    app[LIVE] = live
    r = app.router
    r.add_get("/v1/races", get_races)
    r.add_get("/v1/results/{election}/{race}/{state}", get_result)
    r.add_get("/v1/results/{election}/{race}/{state}/counties", get_counties)
    r.add_get("/v1/results/{election}/{race}/{state}/readout", get_readout)
    r.add_get("/v1/alerts", get_alerts)
    r.add_get("/v1/stream", get_stream)
    r.add_get("/healthz", get_healthz)
    r.add_get("/readyz", get_readyz)
    r.add_get("/metrics", metrics_handler(live.registry))
