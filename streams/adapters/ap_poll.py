"""Live polling of an AP-compatible Elections API URL -> contract records, as they change.

    votewire ingest ap-poll https://api.example.org/v2/elections/2024-11-05?level=ru --interval 30

How it polls, and why:
- **`nextrequest`.** Each response names the next URL (with `minDateTime`, so the next
  answer holds only what changed). Its path and query are followed on the *configured*
  origin (scheme, host, port): a response can never send the poller to another host, and a
  recorded night replays against a local server.
- **ETags.** The last `ETag` of a URL goes back as `If-None-Match`; `304` means nothing new.
- **Never faster than `--interval`** between request starts (AP counts every request against
  a quota), whatever happens.
- **Back off** on 403/429/5xx and on a server that is unreachable: `Retry-After` when sent,
  else doubling from the interval up to `--max-backoff`. The first good answer resets it.
- **A truncated or malformed answer** is reported on stderr and asked for again; the poller
  only moves on to `nextrequest` after a response it could read.
Records are mapped by `streams.adapters.ap.APMapper`: units whose counts changed, seq + 1.
The API key is read from an environment variable (`--api-key-env`) and never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import orjson

from streams.adapters.ap import LEVEL_RANK, APMapper
from streams.adapters.base import ErrorSink, error_sink
from streams.contract.recording import OutRecord
from streams.errors import ConfigError, SourceError


@dataclass(frozen=True)
class Answer:
    """What one request got: a status with headers and body, or a connection failure."""

    status: int | None  # None: no answer (refused, reset, timed out)
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    body: bytes = b""
    error: str = ""


class Fetcher:
    """A blocking GET on top of one aiohttp session and event loop (the verb's API is sync)."""

    def __init__(self, timeout_s: float, headers: dict[str, str]) -> None:
        self._loop = asyncio.new_event_loop()
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._headers = headers
        self._session: aiohttp.ClientSession | None = None

    async def _get(self, url: str, headers: dict[str, str]) -> Answer:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=self._headers)
        try:
            async with self._session.get(url, headers=headers, allow_redirects=False) as resp:
                body = await resp.read()
                return Answer(resp.status, {k.lower(): v for k, v in resp.headers.items()}, body)
        except aiohttp.ClientPayloadError as e:  # the connection closed mid-body
            return Answer(200, {}, b"", f"truncated response ({e})")
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            return Answer(None, error=f"{type(e).__name__}: {e}")

    def get(self, url: str, headers: dict[str, str]) -> Answer:
        return self._loop.run_until_complete(self._get(url, headers))

    def close(self) -> None:
        if self._session is not None:
            self._loop.run_until_complete(self._session.close())
        self._loop.close()


def on_origin(origin: str, next_url: str) -> str:
    """`next_url`'s path and query on `origin`'s scheme, host and port."""
    base, nxt = urlsplit(origin), urlsplit(next_url)
    return urlunsplit((base.scheme, base.netloc, nxt.path or base.path, nxt.query, ""))


def retry_after_s(value: str | None) -> float | None:
    """`Retry-After` as seconds (delta-seconds or an HTTP date), or None when absent or unreadable."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


@dataclass
class PollState:
    url: str
    etags: dict[str, str] = field(default_factory=dict)
    failures: int = 0  # consecutive, for the exponential back-off
    last_start: float | None = None


@dataclass
class APPoller:
    url: str
    interval_s: float
    max_backoff_s: float
    mapper: APMapper
    on_error: ErrorSink
    fetcher: Fetcher
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    log: Callable[[str], None] = lambda text: print(f"votewire ingest ap-poll: {text}", file=sys.stderr)

    def backoff_s(self, state: PollState, answer: Answer) -> float:
        state.failures += 1
        told = retry_after_s(answer.headers.get("retry-after"))
        doubling = min(self.max_backoff_s, self.interval_s * 2 ** state.failures)
        return min(self.max_backoff_s, told) if told is not None else doubling

    def wait(self, state: PollState, at_least_s: float) -> None:
        """Sleep so that the next request starts `at_least_s` after the last one, or later."""
        if state.last_start is not None:
            remaining = state.last_start + max(self.interval_s, at_least_s) - self.clock()
            if remaining > 0:
                self.sleep(remaining)

    def handle(self, state: PollState, answer: Answer) -> tuple[list[OutRecord], float]:
        """Records from one answer, and the least time to wait before the next request."""
        if answer.status is None or answer.status in (403, 429) or answer.status >= 500:
            pause = self.backoff_s(state, answer)
            self.log(f"{answer.error or f'HTTP {answer.status}'} from {state.url}; retrying in {pause:.1f}s")
            return [], pause
        if answer.status == 304:
            state.failures = 0
            return [], self.interval_s
        if answer.status != 200 or answer.error:
            self.on_error(SourceError(state.url, "response", answer.error or f"HTTP {answer.status}"))
            return [], self.interval_s
        return self.read(state, answer)

    def read(self, state: PollState, answer: Answer) -> tuple[list[OutRecord], float]:
        try:
            doc = orjson.loads(answer.body)
        except orjson.JSONDecodeError as e:
            self.on_error(SourceError(state.url, f"char {e.pos}", f"truncated or not JSON ({e.msg}); asking again"))
            return [], self.interval_s
        state.failures = 0
        if answer.headers.get("etag"):
            state.etags[state.url] = answer.headers["etag"]
        records = list(self.mapper.response_records(doc, state.url, self.on_error))
        if isinstance(doc, dict) and isinstance(doc.get("nextrequest"), str):
            state.url = on_origin(self.url, doc["nextrequest"])
        return records, self.interval_s

    def records(self, max_requests: int | None = None) -> Iterator[OutRecord]:
        state, pause, done = PollState(self.url), 0.0, 0
        while max_requests is None or done < max_requests:
            self.wait(state, pause)
            state.last_start = self.clock()
            etag = state.etags.get(state.url)
            answer = self.fetcher.get(state.url, {"If-None-Match": etag} if etag else {})
            done += 1
            records, pause = self.handle(state, answer)
            yield from records


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", metavar="URL",
                        help="first AP-compatible request, e.g. .../v2/elections/2024-11-05?level=ru")
    parser.add_argument("--interval", type=float, default=30.0, metavar="SECONDS",
                        help="least time between two requests (default 30; AP quotas count every request)")
    parser.add_argument("--max-backoff", type=float, default=300.0, metavar="SECONDS",
                        help="longest wait after errors, 403/429 or an unreachable server (default 300)")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS", help="per request (default 60)")
    parser.add_argument("--max-requests", type=int, metavar="N",
                        help="stop after N requests (default: poll until stopped)")
    parser.add_argument("--api-key-env", default="AP_API_KEY", metavar="VAR",
                        help="environment variable holding the API key, sent as x-api-key (default AP_API_KEY)")
    parser.add_argument("--level", choices=sorted(LEVEL_RANK), help="reporting level to tally (default: the finest)")
    parser.add_argument("--election-id", help="election id (default: the response's electionDate)")
    parser.add_argument("--polls-close", metavar="RFC3339", help="poll closing time for every race")
    parser.add_argument("--strict", action="store_true", help="stop at the first malformed race or unit")


def records(args: argparse.Namespace, on_error: ErrorSink | None = None) -> Iterator[OutRecord]:
    if args.interval <= 0 or args.max_backoff < args.interval:
        raise ConfigError("--interval must be > 0 and --max-backoff at least the interval")
    if urlsplit(args.url).scheme not in ("http", "https") or not urlsplit(args.url).netloc:
        raise ConfigError(f"{args.url!r} is not an http(s) URL to poll")
    key = os.environ.get(args.api_key_env)
    fetcher = Fetcher(args.timeout, {"x-api-key": key} if key else {})
    poller = APPoller(args.url, args.interval, args.max_backoff,
                      APMapper(args.election_id, args.level, args.polls_close),
                      on_error or error_sink(args.strict, "ap-poll"), fetcher)
    try:
        yield from poller.records(args.max_requests)
    finally:
        fetcher.close()
