"""`votewire gateway`: the read-only public service (design rule 8).

It runs apart from the workers and only consumes their output topics (`state-results`,
`county-results`, `results-alerts`), so no public request can slow down or reach the tally.
It serves the JSON API and SSE stream in `routes.py`, county shapes for the board's maps in
`maps.py`, the live board at `/`, and its own metrics at `/metrics`. Only GET and HEAD are
accepted; test-mode data only with `--show-test`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from streams.atlas import atlas_path
from streams.connection_log import collapse_connection_errors
from streams.gateway.feed import follow_topics
from streams.gateway.live import LiveResults
from streams.gateway.maps import CountyMaps, add_map_routes
from streams.gateway.routes import LIVE, Handler, add_routes
from streams.gateway.sse import DEFAULT_BUFFER
from streams.settings import Settings, split_addr

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
READ_METHODS = ("GET", "HEAD")


def route_label(request: web.Request) -> str:
    """The route template (`/v1/results/{election}/{race}/{state}`), so label values stay few."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def read_only_and_counted(request: web.Request, handler: Handler) -> web.StreamResponse:
    requests = request.app[LIVE].metrics.requests
    status = 500  # unless the handler returns or raises an HTTP status
    try:
        if request.method not in READ_METHODS:
            raise web.HTTPMethodNotAllowed(request.method, list(READ_METHODS))
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


def build_app(live: LiveResults, settings: Settings | None = None, atlas_file: Path | None = None) -> web.Application:
    """The gateway app; with `settings` it also follows the topics (tests may feed `live` directly).

    County maps come from `atlas_file`, else from the settings' cache directory; with neither
    the board goes without its maps.
    """
    app = web.Application(middlewares=[read_only_and_counted])
    add_routes(app, live)
    add_map_routes(app, CountyMaps(atlas_file or (atlas_path(settings) if settings is not None else None)))
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
    """Serve the gateway on `addr` inside a running loop (tests, benchmarks); `runner.cleanup()` stops it."""
    host, port = split_addr(addr, "VOTEWIRE_GATEWAY_ADDR")
    runner = web.AppRunner(build_app(live, settings), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "The board at / shows, per race and state: the office, the leaders in party colours, the readout, "
        "the second readout line of what the trailing candidate needs (e.g. 'Trump needs 61.2% of the remaining "
        "1,204,000 expected votes'), a county map shaded by leader and margin and hatched where little is counted "
        "(shapes from the us-atlas package that `make install` caches in VOTEWIRE_CACHE_DIR; without it, the county "
        "table alone), and where the vote is left. /v1/maps/{state} serves the county shapes.")
    parser.add_argument("--addr", help="listen on host:port (VOTEWIRE_GATEWAY_ADDR, default 127.0.0.1:8080)")
    parser.add_argument("--show-test", action="store_true", default=None,
                        help="also serve test-mode results (VOTEWIRE_GATEWAY_SHOW_TEST, default off)")
    parser.add_argument("--event-buffer", type=int, default=DEFAULT_BUFFER,
                        help=f"recent SSE events kept for resuming clients (default {DEFAULT_BUFFER})")


def run(args: argparse.Namespace, settings: Settings) -> int:
    settings = settings.with_(gateway_addr=args.addr or settings.gateway_addr,
                              gateway_show_test=bool(args.show_test or settings.gateway_show_test))
    host, port = split_addr(settings.gateway_addr, "VOTEWIRE_GATEWAY_ADDR")
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    collapse_connection_errors()  # one line per broker outage, not one per retry
    live = LiveResults(show_test=settings.gateway_show_test, buffer_size=args.event_buffer)
    log.info("gateway on http://%s:%d (test data %s), topics prefix %r on %s", host, port,
             "shown" if settings.gateway_show_test else "hidden", settings.topic_prefix, settings.bootstrap)
    # run_app handles SIGINT and SIGTERM (docker stop) with a graceful shutdown.
    web.run_app(build_app(live, settings), host=host, port=port, access_log=None, print=None,
                shutdown_timeout=5.0)
    return 0
