"""`votewire gateway`: the read-only public service (design rule 8).

It runs apart from the workers and only consumes their output topics (`state-results`,
`county-results`, `results-alerts`), so no public request can slow down or reach the tally.
It serves the JSON API and SSE stream in `routes.py`, county shapes for the board's maps in
`maps.py`, state names and time zones in `places.py`, a still of each race for articles at
`/embed/...` (`embed.py`), the live board at `/`, and its own metrics at `/metrics`. Only GET
and HEAD are served (and OPTIONS for CORS preflights), with bounded requests and timeouts
(`guard.py`); test-mode data only with `--show-test`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from streams.gateway.embed import add_embed_routes
from streams.gateway.feed import follow_topics
from streams.gateway.guard import DEFAULT_IDLE_TIMEOUT_S, CorsPolicy, GatewayRunner, refuse_unless_readable
from streams.gateway.live import LiveResults
from streams.gateway.maps import CountyMaps, add_map_routes
from streams.gateway.places import add_place_routes
from streams.gateway.routes import LIVE, Handler, add_routes
from streams.geo.atlas import atlas_path
from streams.settings import Settings, split_addr

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
CORS: web.AppKey[CorsPolicy] = web.AppKey("cors", CorsPolicy)


def route_label(request: web.Request) -> str:
    """The route template (`/v1/results/{election}/{race}/{state}`), so label values stay few."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def read_only_and_counted(request: web.Request, handler: Handler) -> web.StreamResponse:
    requests = request.app[LIVE].metrics.requests
    status = 500  # unless the handler returns or raises an HTTP status
    try:
        refuse_unless_readable(request)
        if request.method == "OPTIONS":
            response: web.StreamResponse = request.app[CORS].preflight(request)
            return response
        response = await handler(request)
    except web.HTTPException as e:
        status = e.status
        raise
    else:
        status = response.status
        if not response.prepared:  # a streamed (SSE) response has sent its headers already
            response.headers.setdefault("Cache-Control", "public, max-age=60")  # board files
        return response
    finally:
        requests.labels(route=route_label(request), status=str(status)).inc()


async def get_board(request: web.Request) -> web.FileResponse:
    del request
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "public, max-age=60"})


async def add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every response, streams and errors included, says which origins may read it."""
    for name, value in request.app[CORS].headers(request.headers.get("Origin")).items():
        held = response.headers.get(name)
        response.headers[name] = f"{held}, {value}" if name == "Vary" and held else value


def build_app(live: LiveResults, settings: Settings | None = None, atlas_file: Path | None = None,
              cors: CorsPolicy | None = None) -> web.Application:
    """The gateway app; with `settings` it also follows the topics (tests may feed `live` directly).

    County maps come from `atlas_file`, else from the settings' cache directory; with neither
    the board goes without its maps. CORS: `cors`, else the settings', else any origin.
    """
    app = web.Application(middlewares=[read_only_and_counted])
    app[CORS] = cors or CorsPolicy(settings.gateway_cors_origins if settings is not None else "*")
    app.on_response_prepare.append(add_cors_headers)
    add_routes(app, live)
    add_map_routes(app, CountyMaps(atlas_file or (atlas_path(settings) if settings is not None else None)))
    add_place_routes(app)
    add_embed_routes(app)
    app.router.add_get("/", get_board)
    app.router.add_static("/static", STATIC)
    app.on_shutdown.append(close_streams)
    if settings is not None:
        app.cleanup_ctx.append(feed_context(settings, live))
    return app


async def close_streams(app: web.Application) -> None:
    app[LIVE].events.close_all()  # lets every SSE handler return, so shutdown does not wait on them


def feed_context(settings: Settings, live: LiveResults) -> Callable[[web.Application], AsyncIterator[None]]:
    async def run_feed(app: web.Application) -> AsyncIterator[None]:
        del app
        task = asyncio.create_task(follow_topics(settings, live), name="gateway-feed")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return run_feed


async def start_gateway(live: LiveResults, addr: str, settings: Settings | None = None) -> web.AppRunner:
    """Serve the gateway on `addr` inside a running loop; `runner.cleanup()` stops it."""
    idle_timeout_s = settings.gateway_idle_timeout_s if settings is not None else DEFAULT_IDLE_TIMEOUT_S
    return await serve_app(build_app(live, settings), addr, idle_timeout_s)


async def serve_app(app: web.Application, addr: str, idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S) -> web.AppRunner:
    """Serve a built gateway app on `addr` with the gateway's request limits (`guard.py`)."""
    host, port = split_addr(addr, "VOTEWIRE_GATEWAY_ADDR")
    runner = GatewayRunner(app, idle_timeout_s)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
