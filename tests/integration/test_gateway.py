"""The gateway against the real broker, driven by hand-made snapshots (no worker needed).

SSE resume loses nothing, a restarted gateway serves the newest snapshot, test data stays
hidden unless asked. Every wait has a deadline; everything listens on loopback.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaProducer

from streams.gateway.live import LiveResults
from streams.gateway.server import start_gateway
from streams.gateway.watch import SseParser
from streams.kafka.topics import ensure_topics
from streams.localkafka.kafka_local import free_port
from streams.settings import Settings
from tests.support.examples import state_result

MN = "/v1/results/2024-11-05/president/MN"


async def produce(settings: Settings, snapshots: list[dict[str, Any]], topic: str = "state-results") -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all")
    await producer.start()
    try:
        for s in snapshots:
            key = f"{s['election_id']}/{s['race_id']}/{s['state']}/{s['mode']}".encode()
            await producer.send_and_wait(settings.topic(topic), orjson.dumps(s), key=key)
    finally:
        await producer.stop()


async def until(check: Callable[[], Awaitable[bool]], deadline_s: float = 20.0, what: str = "condition") -> None:
    async with asyncio.timeout(deadline_s):
        while not await check():
            await asyncio.sleep(0.1)
    del what


@asynccontextmanager
async def gateway(settings: Settings, show_test: bool = False) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    """A gateway following the test's topics, ready, with a client session for it."""
    port = free_port()
    runner = await start_gateway(LiveResults(show_test=show_test), f"127.0.0.1:{port}", settings)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(base) as session:
            async def ready() -> bool:
                async with session.get("/readyz") as resp:
                    return resp.status == 200

            await until(ready, what="gateway ready")
            yield base, session
    finally:
        await runner.cleanup()


async def version_of(session: aiohttp.ClientSession, path: str = MN) -> int | None:
    async with session.get(path) as resp:
        return (await resp.json())["version"] if resp.status == 200 else None


async def read_state_events(resp: aiohttp.ClientResponse, parser: SseParser, stop_at_version: int) -> list[int]:
    """MN versions seen on the stream until `stop_at_version` arrives."""
    seen: list[int] = []
    async with asyncio.timeout(20):
        async for raw in resp.content:
            event = parser.feed(raw.decode())
            if event and event[0] == "state":
                snapshot = orjson.loads(event[1])
                if snapshot["state"] == "MN":
                    seen.append(snapshot["version"])
                    if snapshot["version"] >= stop_at_version:
                        return seen
    return seen


def test_sse_resume_after_a_dropped_connection_loses_no_snapshot(settings: Settings) -> None:
    async def scenario() -> None:
        await ensure_topics(settings)
        await produce(settings, [state_result(version=1)])
        async with gateway(settings) as (_, session):
            parser = SseParser()
            async with session.get("/v1/stream?kinds=state") as resp:
                assert await read_state_events(resp, parser, 1) == [1]  # the resync burst
                await produce(settings, [state_result(version=v) for v in (2, 3)])
                assert await read_state_events(resp, parser, 3) == [2, 3]
            # Dropped. The count goes on while this client is away.
            dropped_at = parser.last_id
            await produce(settings, [state_result(version=v) for v in range(4, 9)] + [state_result("WI")])

            async def caught_up() -> bool:
                return await version_of(session) == 8

            await until(caught_up)
            async with session.get("/v1/stream?kinds=state", headers={"Last-Event-ID": dropped_at or ""}) as resp:
                assert await read_state_events(resp, parser, 8) == [4, 5, 6, 7, 8]

    asyncio.run(asyncio.wait_for(scenario(), 90))


def test_a_restarted_gateway_serves_the_newest_snapshot(settings: Settings) -> None:
    async def scenario() -> None:
        await ensure_topics(settings)
        # Arrival order is not version order: an old snapshot after a newer one must not win.
        await produce(settings, [state_result(version=v) for v in (1, 5, 3, 4)])
        async with gateway(settings) as (_, session):
            assert await version_of(session) == 5
        await produce(settings, [state_result(version=2), state_result(version=6)])
        async with gateway(settings) as (_, session):
            assert await version_of(session) == 6
            async with session.get(MN + "/readout") as resp:
                assert (await resp.text()) == state_result(version=6)["readout"] + "\n"

    asyncio.run(asyncio.wait_for(scenario(), 90))


def test_test_data_is_hidden_unless_asked(settings: Settings) -> None:
    async def scenario() -> None:
        await ensure_topics(settings)
        await produce(settings, [state_result("MN", mode="test"), state_result("WI")])
        async with gateway(settings) as (_, session):
            assert await version_of(session, MN + "?mode=test") is None
            async with session.get("/v1/races") as resp:
                assert [(r["state"], r["mode"]) for r in (await resp.json())["races"]] == [("WI", "live")]
        async with gateway(settings, show_test=True) as (_, session):
            assert await version_of(session, MN + "?mode=test") == 1
            async with session.get("/v1/races") as resp:
                assert {r["mode"] for r in (await resp.json())["races"]} == {"live", "test"}

    asyncio.run(asyncio.wait_for(scenario(), 90))
