"""`votewire gateway`: the read-only public service (streams.gateway), until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from streams.gateway.live import LiveResults
from streams.gateway.server import start_gateway
from streams.gateway.sse import DEFAULT_BUFFER
from streams.kafka.connection_log import collapse_connection_errors
from streams.settings import Settings, split_addr

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "The board at / shows, per race and state: the office, the leaders in party colours, the readout, "
        "the second readout line of what the trailing candidate needs (e.g. 'Trump needs 61.2% of the remaining "
        "1,204,000 expected votes'), a county map shaded by leader and margin and hatched where little is counted "
        "(shapes from the us-atlas package that `make install` caches in VOTEWIRE_CACHE_DIR; without it, the county "
        "table alone), and where the vote is left. /v1/maps/{state} serves the county shapes; "
        "/embed/{election}/{race}/{state} (and .svg) a still of one race, with no script, for an article.")
    parser.add_argument("--addr", help="listen on host:port (VOTEWIRE_GATEWAY_ADDR, default 127.0.0.1:8080)")
    parser.add_argument("--show-test", action="store_true", default=None,
                        help="also serve test-mode results (VOTEWIRE_GATEWAY_SHOW_TEST, default off)")
    parser.add_argument("--cors-origins", metavar="ORIGINS",
                        help="origins browsers may read from: *, a comma-separated list, or none "
                             "(VOTEWIRE_GATEWAY_CORS_ORIGINS, default *)")
    parser.add_argument("--idle-timeout", type=float, metavar="SECONDS",
                        help="seconds a connection may take to send its request head or idle between requests "
                             "(VOTEWIRE_GATEWAY_IDLE_TIMEOUT_S, default 15)")
    parser.add_argument("--event-buffer", type=int, default=DEFAULT_BUFFER,
                        help=f"recent SSE events kept for resuming clients (default {DEFAULT_BUFFER})")


def run(args: argparse.Namespace, settings: Settings) -> int:
    settings = settings.with_(gateway_addr=args.addr or settings.gateway_addr,
                              gateway_show_test=bool(args.show_test or settings.gateway_show_test),
                              gateway_cors_origins=args.cors_origins or settings.gateway_cors_origins,
                              gateway_idle_timeout_s=args.idle_timeout or settings.gateway_idle_timeout_s)
    host, port = split_addr(settings.gateway_addr, "VOTEWIRE_GATEWAY_ADDR")
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    collapse_connection_errors()  # one line per broker outage, not one per retry
    live = LiveResults(show_test=settings.gateway_show_test, buffer_size=args.event_buffer)
    log.info("gateway on http://%s:%d (test data %s), topics prefix %r on %s", host, port,
             "shown" if settings.gateway_show_test else "hidden", settings.topic_prefix, settings.bootstrap)
    asyncio.run(serve_until_signalled(live, settings))
    return 0


async def serve_until_signalled(live: LiveResults, settings: Settings) -> None:
    """Serve until SIGINT (Ctrl-C) or SIGTERM (docker stop), then shut down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = await start_gateway(live, settings.gateway_addr, settings)
    try:
        await stop.wait()
        log.info("gateway stopping")
    finally:
        await runner.cleanup()
