"""What the public side refuses: writes, bodies, oversized heads, slow clients, foreign origins.

The gateway faces the internet on an election night, so every request is bounded before any
handler runs:
- methods: GET and HEAD are served, OPTIONS answers a CORS preflight; anything else is 405;
- bodies: a read-only service takes none, so a request that announces one is 413;
- the request target and headers: at most `MAX_LINE_BYTES` each and `MAX_HEADERS` headers; a
  longer target is 414, a longer header or too many of them 431, as RFC 9110 and 6585 name them
  (aiohttp's parser says 400 for all three);
- time: a connection must complete its request head within `idle_timeout_s` of opening (or of
  its previous response): aiohttp's keep-alive timer runs from the connection's start and closes
  it while the handler is still waiting for a whole request, which is the slowloris case;
- CORS: `VOTEWIRE_GATEWAY_CORS_ORIGINS`, `*` by default (public, credential-free results meant to
  be embedded anywhere), or a comma-separated list of origins (each echoed with `Vary: Origin`),
  or `none` for no CORS headers at all (same-origin only).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.web_protocol import RequestHandler

READ_METHODS = ("GET", "HEAD")
ALLOWED_METHODS = (*READ_METHODS, "OPTIONS")
MAX_LINE_BYTES = 8190  # request line and each header line (aiohttp's default, stated here on purpose)
MAX_HEADERS = 64
DEFAULT_IDLE_TIMEOUT_S = 15.0
# Headers a browser may send on a cross-origin read: resuming an EventSource, revalidating.
CORS_REQUEST_HEADERS = "Last-Event-ID, If-None-Match, Cache-Control"
CORS_MAX_AGE_S = 600


class CorsPolicy:
    """Which origins may read the gateway from a browser."""

    def __init__(self, setting: str) -> None:
        text = setting.strip()
        self.any = text == "*"
        self.origins = frozenset() if self.any or text.lower() in ("", "none") else frozenset(
            o.strip().rstrip("/") for o in text.split(",") if o.strip())

    def headers(self, origin: str | None) -> dict[str, str]:
        """The CORS headers for a request from `origin` (none when it may not read)."""
        if self.any:
            return {"Access-Control-Allow-Origin": "*"}
        if origin is not None and origin in self.origins:
            return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        return {}

    def preflight(self, request: web.Request) -> web.Response:
        headers = {"Allow": ", ".join(ALLOWED_METHODS), **self.headers(request.headers.get("Origin"))}
        if "Access-Control-Allow-Origin" in headers:
            headers["Access-Control-Allow-Methods"] = ", ".join(ALLOWED_METHODS)
            headers["Access-Control-Allow-Headers"] = CORS_REQUEST_HEADERS
            headers["Access-Control-Max-Age"] = str(CORS_MAX_AGE_S)
        return web.Response(status=204, headers=headers)


def refuse_unless_readable(request: web.Request) -> None:
    """405 for a method that is no read; 413 for a request that carries a body."""
    if request.method not in ALLOWED_METHODS:
        raise web.HTTPMethodNotAllowed(request.method, list(ALLOWED_METHODS),
                                       text=f"{request.method} is not allowed: the gateway is read-only\n")
    if request.body_exists:
        raise web.HTTPRequestEntityTooLarge(0, request.content_length or 0,
                                            text="the gateway is read-only: requests carry no body\n")


class BoundedRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering an oversized request head with 414 or 431."""

    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if isinstance(exc, LineTooLong) and status == 400:
            # The parser names the line it refused: the target (`/v1/...`) or a header's value.
            line = exc.args[0] if exc.args else b""
            is_target = isinstance(line, bytearray) or bytes(line).startswith(b"/")
            status, message = (414, f"request target over {MAX_LINE_BYTES} bytes") if is_target else (
                431, f"request header over {MAX_LINE_BYTES} bytes")
        elif isinstance(exc, BadHttpMessage) and status == 400 and "Too many headers" in str(exc):
            status, message = 431, f"more than {MAX_HEADERS} request headers"
        return super().handle_error(request, status, exc, message)


class BoundedServer(web.Server):
    def __call__(self) -> RequestHandler:
        return BoundedRequestHandler(self, loop=self._loop, **self._kwargs)


class GatewayRunner(web.AppRunner):
    """An AppRunner whose connections are `BoundedRequestHandler`s with the gateway's limits."""

    def __init__(self, app: web.Application, idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S) -> None:
        super().__init__(app, access_log=None, shutdown_timeout=2.0, keepalive_timeout=idle_timeout_s,
                         max_line_size=MAX_LINE_BYTES, max_field_size=MAX_LINE_BYTES, max_headers=MAX_HEADERS)

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # The same server, but for the class of its connections (web.Server.__call__ names it).
        return BoundedServer(server.request_handler, request_factory=server.request_factory,
                             handler_cancellation=server.handler_cancellation, loop=asyncio.get_running_loop(),
                             **server._kwargs)
