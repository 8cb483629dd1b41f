"""`votewire watch`: filtering, one line per newer snapshot, SSE parsing, Ctrl-C."""

from __future__ import annotations

import asyncio
import select
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator

from aiohttp.test_utils import TestServer

from streams.gateway.examples import state_result
from streams.gateway.live import LiveResults
from streams.gateway.server import build_app
from streams.watch import ReadoutFilter, SseParser, format_line, snapshots_from_gateway, watch


def test_only_newer_snapshots_make_a_line() -> None:
    readouts = ReadoutFilter()
    assert readouts.line_for(state_result(version=2)) is not None
    assert readouts.line_for(state_result(version=2)) is None
    assert readouts.line_for(state_result(version=1)) is None
    assert readouts.line_for(state_result(version=3)) is not None


def test_race_and_state_filters() -> None:
    readouts = ReadoutFilter(race="president", state="mn")
    assert readouts.line_for(state_result("MN")) is not None
    assert readouts.line_for(state_result("WI")) is None
    assert readouts.line_for(state_result("MN", race="governor", version=5)) is None


def test_malformed_messages_are_skipped() -> None:
    readouts = ReadoutFilter()
    for junk in (None, [], {"version": "x"}, "text"):
        assert readouts.line_for(junk) is None


def test_line_shows_source_time_place_test_flag_and_readout() -> None:
    line = format_line(state_result(mode="test"))
    assert line.startswith("2024-11-06T02:00:00Z  2024-11-05 president MN [TEST]")
    assert line.endswith("Harris 51.8% · Trump 46.6% · 0% of expected vote counted")


def test_sse_parser_tracks_ids_and_skips_comments() -> None:
    parser = SseParser()
    lines = [": keepalive\n", "\n", "retry: 2000\n", "\n", "id: r:4\n", "event: state\n", 'data: {"a":1}\n', "\n"]
    events = [e for e in map(parser.feed, lines) if e]
    assert events == [("state", '{"a":1}')]
    assert parser.last_id == "r:4"


def test_watch_follows_a_gateway_stream() -> None:
    async def scenario() -> list[str]:
        live = LiveResults()
        live.ingest("state", state_result("MN", version=1))
        live.ingest("state", state_result("WI", version=1))
        lines: list[str] = []
        async with TestServer(build_app(live)) as server:
            source: AsyncIterator[object] = snapshots_from_gateway(str(server.make_url("/")))
            task = asyncio.create_task(watch(source, ReadoutFilter(state="MN"), lines.append))
            while len(lines) < 1:
                await asyncio.sleep(0.05)
            live.ingest("state", state_result("MN", version=2))
            while len(lines) < 2:
                await asyncio.sleep(0.05)
            task.cancel()
        return lines

    lines = asyncio.run(asyncio.wait_for(scenario(), 10))
    assert len(lines) == 2
    assert all(" MN " in line for line in lines)


def test_ctrl_c_ends_watch_quietly() -> None:
    # A gateway that does not answer: watch retries (and says so) until interrupted.
    proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "watch", "--gateway", "http://127.0.0.1:9"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    first = ""
    while "reconnecting" not in first and time.monotonic() < deadline:
        if select.select([proc.stderr], [], [], 0.5)[0]:
            first = proc.stderr.readline()
    assert "reconnecting" in first, "watch did not start within 30 s"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
