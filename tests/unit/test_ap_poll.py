"""AP polling against a LOCAL aiohttp server (127.0.0.1 only) serving recorded AP responses:
pagination by nextrequest, ETag/304, 403 with Retry-After, a truncated body, a server that
goes away and comes back. Sleeps are recorded on a fake clock, so the test takes no waiting."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from streams.adapters import ap_poll
from streams.adapters.ap import APMapper
from streams.errors import SourceError
from tests.unit.adapter_polls import as_single_reports

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ap"
Step = Callable[[web.Request], web.Response]


def doc(name: str, nextrequest: str = "http://api.ap.org/next?minDateTime=x", bump: int = 0) -> bytes:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    data["nextrequest"] = nextrequest  # recorded with AP's host: the poller must stay on ours
    if bump:
        data["races"][0]["reportingUnits"][1]["candidates"][0]["voteCount"] += bump
    return json.dumps(data).encode()


class LocalAP:
    """Serves `steps` in order on 127.0.0.1; records each request's path and If-None-Match."""

    def __init__(self, steps: list[Step]) -> None:
        self.steps, self.seen = steps, []  # type: list[tuple[str, str | None]]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.seen.append((request.path_qs, request.headers.get("If-None-Match")))
        return self.steps.pop(0)(request)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def _stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    def start(self) -> None:
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(timeout=10)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def server() -> Iterator[LocalAP]:
    srv = LocalAP([])
    srv.start()
    yield srv
    srv.stop()
    srv.close()


class FakeClock:
    def __init__(self, on_sleep: Callable[[float], None] = lambda s: None) -> None:
        self.now, self.sleeps, self.on_sleep = 0.0, [], on_sleep  # type: float, list[float], Callable[[float], None]

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self.on_sleep(seconds)


def poller(server: LocalAP, clock: FakeClock, errors: list[SourceError], logs: list[str]) -> ap_poll.APPoller:
    return ap_poll.APPoller(f"http://127.0.0.1:{server.port}/v2/elections/2016-03-01?level=ru", interval_s=10,
                            max_backoff_s=60, mapper=APMapper(), on_error=errors.append,
                            fetcher=ap_poll.Fetcher(5, {}), sleep=clock.sleep, clock=lambda: clock.now,
                            log=logs.append)


def ok(body: bytes, etag: str) -> Step:
    return lambda request: web.Response(body=body, headers={"ETag": etag}, content_type="application/json")


def test_a_night_of_polling(server: LocalAP) -> None:
    errors: list[SourceError] = []
    logs: list[str] = []
    away = {"stopped": False, "failed_tries": 0}

    def on_sleep(seconds: float) -> None:
        # After the 5th answer (truncated) the server goes away; it comes back after two failed tries.
        if len(server.seen) == 5 and not away["stopped"]:
            away["stopped"] = True
            server.stop()
        elif away["stopped"] and away["failed_tries"] < 2:
            away["failed_tries"] += 1
            if away["failed_tries"] == 2:
                server.start()

    clock = FakeClock(on_sleep)
    server.steps = [
        ok(doc("20121106_ak_prez.json"), '"e1"'),  # page 1 -> nextrequest /next
        ok(doc("20160301_super_tuesday.json"), '"e2"'),  # page 2, same nextrequest
        lambda request: web.Response(status=304),  # If-None-Match "e2": nothing new
        lambda request: web.Response(status=403, headers={"Retry-After": "25"}),  # over quota
        lambda request: web.Response(body=doc("20160301_super_tuesday.json")[:4000]),  # truncated
        ok(doc("20160301_super_tuesday.json", bump=7), '"e3"'),  # back again: one unit changed
    ]
    polling = poller(server, clock, errors, logs)
    try:
        recs = as_single_reports(polling.records(max_requests=8))
    finally:
        polling.fetcher.close()

    assert [path.split("?")[0] for path, _ in server.seen] == ["/v2/elections/2016-03-01"] + ["/next"] * 5
    assert server.seen[2][1] == '"e2"'  # the ETag went back, and got a 304
    assert len(recs) == (2 + 1) + (704 + 2) + 1  # each night with AP's calls, then the changed unit
    assert sorted((r.key, r.value["winners"]) for r in recs if r.topic == "race-calls") == [
        ("2012-11-06/0/AK/live", ["893"]), ("2016-03-01/24547/MA/live", ["8639"]),
        ("2016-03-01/24548/MA/live", ["1746"])]
    assert (recs[-1].value["precinct_id"], recs[-1].value["seq"]) == ("subunit:22001", 1)
    assert recs[-1].value["votes"]["8639"] == 1222 + 7
    assert len(errors) == 1
    assert "truncated or not JSON" in errors[0].reason
    assert sum("127.0.0.1" in line and "retrying" in line for line in logs) == 3  # the 403, two refusals
    assert clock.sleeps[3] >= 25  # Retry-After honoured after the 403
    assert clock.sleeps[-2] < clock.sleeps[-1] <= 60  # doubling while the server is away, capped
    assert all(s >= 10 for s in clock.sleeps)  # never faster than the interval


def test_next_request_stays_on_the_configured_origin() -> None:
    assert ap_poll.on_origin("http://127.0.0.1:8080/v2/elections/x?a=1",
                             "http://api.ap.org/v2/elections/2012-11-06?minDateTime=2016") == \
        "http://127.0.0.1:8080/v2/elections/2012-11-06?minDateTime=2016"


def test_retry_after_forms() -> None:
    assert ap_poll.retry_after_s("30") == 30
    assert ap_poll.retry_after_s(None) is None
    assert ap_poll.retry_after_s("soon") is None
    assert ap_poll.retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # in the past: no wait
