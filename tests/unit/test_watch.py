"""`votewire watch`: filtering, one line per newer snapshot, SSE parsing, Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp.test_utils import TestServer

from streams.gateway.live import LiveResults
from streams.gateway.server import build_app
from streams.gateway.watch import ReadoutFilter, SseParser, format_line, snapshots_from_gateway, watch
from tests.support.examples import state_result


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


class QuietStream(http.server.BaseHTTPRequestHandler):
    """A gateway's /v1/stream with nothing to say (its keep-alive comments only)."""

    asked = threading.Event()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        QuietStream.asked.set()
        with contextlib.suppress(OSError):
            for _ in range(60):
                self.wfile.write(b": ping\n\n")
                self.wfile.flush()
                time.sleep(0.5)

    def log_message(self, *args: Any) -> None:
        pass


def test_ctrl_c_ends_watch_quietly() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), QuietStream)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "watch", "--gateway",
                                 f"http://127.0.0.1:{server.server_address[1]}"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert QuietStream.asked.wait(30), "watch did not start within 30 s"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_a_gateway_that_never_answers_is_one_line_and_exit_1() -> None:
    done = subprocess.run([sys.executable, "-m", "streams.cli", "watch", "--gateway", "http://127.0.0.1:9"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("votewire watch: no gateway stream at http://127.0.0.1:9 (Cannot connect to host")


def vote_left_snapshot() -> dict[str, Any]:
    return {**state_result(votes={"harris": 907_994, "trump": 757_291}), "as_of": "2024-11-06T04:50:01Z",
            "needs_readout": "Trump needs 54.9% of the remaining 1,544,927 expected votes",
            "counties_outstanding": [
                {"county_fips": "27123", "votes_outstanding": 278_025, "total_votes": 0, "leader": None,
                 "margin_pct": 0.0},
                {"county_fips": "27137", "votes_outstanding": 110_311, "total_votes": 9_000, "leader": "trump",
                 "margin_pct": 9.0},
                {"county_fips": "27003", "votes_outstanding": 90_000, "total_votes": 50, "leader": None,
                 "margin_pct": 0.0},
                {"county_fips": "27109", "votes_outstanding": 80_000, "total_votes": 10, "leader": "harris",
                 "margin_pct": 1.0},
            ]}


def test_the_needs_line_and_the_counties_still_out_follow_the_readout() -> None:
    head = "2024-11-06T04:50:01Z  2024-11-05 president MN          "
    lines = format_line(vote_left_snapshot(), 3, {"27123": "Ramsey", "27137": "St. Louis"}).split("\n")
    assert lines == [
        head + "Harris 54.5% · Trump 45.5% · 50% of expected vote counted",  # 1,665,285 of 3,300,000
        " " * len(head) + "Trump needs 54.9% of the remaining 1,544,927 expected votes",
        # names from the atlas where known, else the FIPS; the leader by party and margin
        " " * len(head) + "Most still out: Ramsey 278,025 (no votes yet) · St. Louis 110,311 (REP +9.0) · "
                          "27003 90,000 (tied)",
    ]


def test_counties_still_out_can_be_turned_off_and_a_plain_snapshot_is_one_line() -> None:
    assert format_line(vote_left_snapshot(), 0).count("\n") == 1
    assert "\n" not in format_line(state_result())
    readouts = ReadoutFilter(counties=1)
    line = readouts.line_for(vote_left_snapshot())
    assert line is not None
    assert line.endswith("Most still out: 27123 278,025 (no votes yet)")


def test_watch_help_describes_the_second_readout_line() -> None:
    out = subprocess.run([sys.executable, "-m", "streams.cli", "watch", "--help"], capture_output=True, text=True,
                         check=True).stdout
    assert "--counties N" in out
    assert "needs" in out
    assert "still out" in out


def test_a_called_race_says_so_under_its_readout_and_a_retraction_without_a_mark() -> None:
    from streams.gateway.watch import format_line

    base = {"election_id": "2024-11-05", "race_id": "senate", "state": "MN", "mode": "live", "version": 3,
            "as_of": "2024-11-06T04:00:00Z", "readout": "Klobuchar 58.1% · White 40.5% · 80% of expected vote counted",
            "candidates": [{"candidate_id": "klobuchar", "name": "Amy Klobuchar"}]}
    called = format_line({**base, "call": {"status": "called", "winners": ["klobuchar"], "by": "AP",
                                           "at": "2024-11-06T02:00:05Z"}})
    assert called.splitlines()[1].strip() == "✓ Called for Amy Klobuchar by AP"
    retracted = format_line({**base, "call": {"status": "retracted", "winners": [], "by": "AP",
                                              "at": "2024-11-06T02:30:00Z"}})
    assert retracted.splitlines()[1].strip() == "Call retracted by AP: no winner declared"
    assert "✓" not in format_line(base)
