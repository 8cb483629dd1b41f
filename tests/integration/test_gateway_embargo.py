"""Embargoed and test-mode results never come out of the public gateway (design rules 6 and 7).

A worker tallies a live report from before polls close and a test-mode report; a gateway that
has caught up with every output topic must show neither on any endpoint, the stream or the
board, alerts included. A live report after polls close then appears: the check can fail.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaProducer

from streams.gateway.live import LiveResults
from streams.gateway.server import start_gateway
from streams.kafka.clients import kafka_client
from streams.kafka.replay import replay_files
from streams.kafka.topics import ensure_topics
from streams.localkafka.kafka_local import free_port
from streams.settings import Settings
from tests.integration.harness import read_topic, run, running_worker, source_ms, wait_for
from tests.integration.test_worker_mn import state_results
from tests.integration.test_worker_robustness import write_lines

KEY = "e1/president/CA"
POLLS_CLOSE = "2024-11-06T04:00:00Z"
PUBLIC_PATHS = ("/", "/v1/races", "/v1/alerts", "/v1/alerts?since=0", "/v1/results/e1/president/CA",
                "/v1/results/e1/president/CA?mode=test", "/v1/results/e1/president/CA/counties",
                "/v1/results/e1/president/CA/counties?mode=test", "/v1/results/e1/president/CA/readout",
                "/v1/results/e1/president/CA/readout?mode=test", "/embed/e1/president/CA",
                "/embed/e1/president/CA?mode=test", "/embed/e1/president/CA.svg",
                "/embed/e1/president/CA.svg?mode=test")


def line(topic: str, value: dict[str, Any], at: str = "2024-11-06T00:00:00Z") -> dict[str, Any]:
    return {"ts": source_ms(at), "topic": topic, "key": KEY, "value": value}


def report(unit: str, at: str, votes: dict[str, int], mode: str, seq: int = 1) -> dict[str, Any]:
    """A report line whose recorded time (its Kafka time, replayed) is when it says it was made."""
    return line("precinct-results", {
        "schema": "precinct-result/1", "election_id": "e1", "race_id": "president", "state": "CA",
        "county_fips": "06001", "precinct_id": unit, "seq": seq, "reported_at": at, "votes": votes,
        "complete": True, "mode": mode}, at)


DEFINITION = line("race-definitions", {
    "schema": "race-definition/1", "election_id": "e1", "race_id": "president", "state": "CA",
    "office": "U.S. President", "precincts_total": 2, "polls_close": POLLS_CLOSE, "certified": False,
    "candidates": [{"candidate_id": "harris", "name": "Kamala Harris", "party": "DEM"},
                   {"candidate_id": "trump", "name": "Donald Trump", "party": "REP"}]})
EXPECTED = line("expected-votes", {
    "schema": "expected-vote/1", "election_id": "e1", "race_id": "president", "state": "CA",
    "expected_votes": 40, "seq": 1, "issued_at": "2024-11-06T01:00:00Z"})


async def public_bytes(base: str) -> bytes:
    """Every public endpoint's body, and the stream's resync burst up to its sync event."""
    bodies = b""
    async with aiohttp.ClientSession(base) as session:
        for path in PUBLIC_PATHS:
            async with session.get(path) as resp:
                bodies += await resp.read()
        async with session.get("/v1/stream") as stream:
            async with asyncio.timeout(20):
                while b"event: sync" not in bodies:
                    bodies += await stream.content.readany()
    return bodies


def test_embargoed_and_test_results_leave_by_no_public_endpoint(settings: Settings, tmp_path: Path) -> None:
    early = [DEFINITION, EXPECTED,
             report("p1", "2024-11-06T03:30:00Z", {"harris": 10, "trump": 5}, "live"),  # before polls close
             report("p1", "2024-11-06T03:59:59Z", {"harris": 5, "trump": 30}, "live", seq=2),  # lead change
             report("t1", "2024-11-06T05:00:00Z", {"harris": 1, "trump": 900}, "test")]

    async def gateway_shows(marker: bytes | None) -> bytes:
        port = free_port()
        live = LiveResults()
        runner = await start_gateway(live, f"127.0.0.1:{port}", settings)
        try:
            async with asyncio.timeout(60):
                while not live.ready:
                    await asyncio.sleep(0.2)
                body = await public_bytes(f"http://127.0.0.1:{port}")
                while marker is not None and marker not in body:
                    await asyncio.sleep(0.5)
                    body = await public_bytes(f"http://127.0.0.1:{port}")
                return body
        finally:
            await runner.cleanup()

    with running_worker(settings, tmp_path / "worker.log") as worker:
        run(replay_files(settings, [write_lines(tmp_path / "early.jsonl", early)], speed=None, max_gap=None,
                         progress=False))
        wait_for(lambda: state_results(settings).get(f"{KEY}/test"), 120, what="the test snapshot", alive=worker)
        shown = run(gateway_shows(None))
        # (a 404 names the path asked for, so the key itself may appear; nothing of the count may)
        for secret in (b"Harris", b"Trump", b"harris", b"trump", b'"mode":"test"',
                       b'"total_votes"', b"lead_change", b"counted_milestone"):
            assert secret not in shown, secret
        later = [report("p2", "2024-11-06T04:30:00Z", {"harris": 7, "trump": 3}, "live")]
        run(replay_files(settings, [write_lines(tmp_path / "later.jsonl", later)], speed=None, max_gap=None,
                         progress=False))
        wait_for(lambda: state_results(settings).get(f"{KEY}/live"), 120, what="live after polls close", alive=worker)
        after = run(gateway_shows(b'"as_of":"2024-11-06T04:30:00Z"'))
    assert b'"state":"CA"' in after
    assert b"<h1>California" in after  # the embed page, once the polls have closed
    assert b"<title>California: " in after  # and its image
    assert b'"mode":"test"' not in after
    early_alerts = [r.value for r in run(read_topic(settings, "results-alerts"))
                    if r.value["mode"] == "live" and r.value["at"] < POLLS_CLOSE]
    # only the estimate's revision, which carries no count
    assert [a["type"] for a in early_alerts] == ["expected_vote_revised"], early_alerts


async def produce(settings: Settings, records: list[tuple[dict[str, Any], int]]) -> None:
    """Lines' values sent with the Kafka timestamp given, as a feed's producer (or a replay) sets it."""
    await ensure_topics(settings)
    producer = kafka_client(AIOKafkaProducer, settings)
    await producer.start()
    try:
        for record, timestamp_ms in records:
            await producer.send_and_wait(settings.topic(record["topic"]), orjson.dumps(record["value"]),
                                         KEY.encode(), timestamp_ms=timestamp_ms)
    finally:
        await producer.stop()


def test_a_report_whose_kafka_time_is_before_polls_close_lifts_no_embargo(settings: Settings,
                                                                          tmp_path: Path) -> None:
    """Issue 18 item 7 (design rule 7): a unit's clock alone cannot lift a race's embargo. p1
    says 04:30, after polls close, but Kafka took it at 03:30 (a skewed clock, UTC written as
    -05:00, a hostile feed); p1b says the same in a replay whose recording has it at 03:31. Neither
    is released, counts or alerts, until a record that Kafka also times after polls close."""
    before_close, after_close = source_ms(POLLS_CLOSE) - 3_600_000, source_ms(POLLS_CLOSE) + 60_000
    skewed = report("p1", "2024-11-06T04:30:00Z", {"harris": 10, "trump": 5}, "live")
    marker = report("t1", "2024-11-06T05:00:00Z", {"harris": 1, "trump": 900}, "test")  # test mode: reported_at only
    replayed = {**report("p1b", "2024-11-06T04:30:00Z", {"harris": 1, "trump": 1}, "live"), "ts": before_close + 60_000}
    with running_worker(settings, tmp_path / "worker.log") as worker:
        run(produce(settings, [(DEFINITION, before_close), (EXPECTED, before_close), (skewed, before_close)]))
        run(replay_files(settings, [write_lines(tmp_path / "skewed.jsonl", [replayed])], speed=None, max_gap=None,
                         progress=False))
        run(produce(settings, [(marker, before_close + 120_000)]))
        snaps = wait_for(lambda: state_results(settings) or None, 120, what="the test snapshot", alive=worker)
        assert set(snaps) == {f"{KEY}/test"}, "a count Kafka took before polls close was released"
        assert all(r.value["mode"] == "test" for r in run(read_topic(settings, "county-results")))
        later = {**report("p2", "2024-11-06T04:31:00Z", {"harris": 7, "trump": 3}, "live"), "ts": after_close}
        run(replay_files(settings, [write_lines(tmp_path / "later.jsonl", [later])], speed=None, max_gap=None,
                         progress=False))
        live = wait_for(lambda: state_results(settings).get(f"{KEY}/live"), 120, what="live once Kafka agrees",
                        alive=worker)
    assert (live["total_votes"], live["as_of"]) == (15 + 2 + 10, "2024-11-06T04:31:00Z")
    published = [r for r in run(read_topic(settings, "state-results")) if r.key == f"{KEY}/live"][-1]
    assert published.headers["votewire-counted"] == b"6", "p1, p1b and p2 at seq 1: what a successor's hold reads"
    early_alerts = [r.value for r in run(read_topic(settings, "results-alerts"))
                    if r.value["mode"] == "live" and r.value["at"] < "2024-11-06T04:31:00Z"]
    assert [a["type"] for a in early_alerts] == ["expected_vote_revised"], early_alerts
