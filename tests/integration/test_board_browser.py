"""The live board in a real headless Chromium (Debian's), while snapshots are being produced.

It must show Minnesota's readout, change it live as newer snapshots arrive over /v1/stream,
and leave a screenshot in test-artifacts/board.png for a human to look at.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from playwright.async_api import async_playwright

from streams.gateway.examples import alert, state_result
from streams.gateway.live import LiveResults
from streams.gateway.server import start_gateway
from streams.kafka_local import free_port
from streams.settings import Settings
from streams.topics import ensure_topics

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MN_READOUT = '[data-key="2024-11-05/president/MN/live"] .readout'
CHANGED = "([sel, before]) => { const el = document.querySelector(sel); return el && el.textContent !== before; }"
# Minnesota 2024, scaled by how much of the vote is in.
MN_FINAL = {"harris": 1_656_979, "trump": 1_519_032, "oliver": 13_458}
WI_FINAL = {"harris": 1_668_229, "trump": 1_697_626, "oliver": 10_606}


def counted(final: dict[str, int], share: float) -> dict[str, int]:
    return {c: int(v * share) for c, v in final.items()}


async def send(producer: AIOKafkaProducer, settings: Settings, topic: str, message: dict[str, Any]) -> None:
    key = f"{message['election_id']}/{message['race_id']}/{message['state']}"
    if topic != "results-alerts":
        key += f"/{message['mode']}"
    await producer.send_and_wait(settings.topic(topic), orjson.dumps(message), key=key.encode())


async def produce_night(settings: Settings, steps: int, pause_s: float) -> None:
    """Snapshots climbing towards the final count, one version per step."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all")
    await producer.start()
    try:
        for version in range(1, steps + 1):
            share = 0.3 + 0.6 * version / steps
            at = f"2024-11-06T0{2 + version // 30}:{(version * 2) % 60:02d}:00Z"
            await send(producer, settings, "state-results",
                       state_result("MN", version, counted(MN_FINAL, share), expected=3_300_000, as_of=at))
            await send(producer, settings, "state-results",
                       state_result("WI", version, counted(WI_FINAL, share), expected=3_450_000, as_of=at))
            if version in (2, steps // 2):
                await send(producer, settings, "results-alerts",
                           alert(f"milestone-{version}", "MN", at=at, kind="counted_milestone",
                                 message=f"{round(100 * share)}% of the expected vote is counted in Minnesota."))
            await asyncio.sleep(pause_s)
    finally:
        await producer.stop()


def test_board_shows_minnesota_changing_live(settings: Settings) -> None:
    async def scenario() -> tuple[str, str]:
        await ensure_topics(settings)
        port = free_port()
        gateway = await start_gateway(LiveResults(), f"127.0.0.1:{port}", settings)
        night = asyncio.create_task(produce_night(settings, steps=40, pause_s=0.15))
        try:
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = await browser.new_page(viewport={"width": 1600, "height": 900})
                await page.goto(f"http://127.0.0.1:{port}/", timeout=15_000)
                readout = page.locator(MN_READOUT)
                await readout.wait_for(timeout=30_000)
                first = await readout.inner_text()
                await page.wait_for_function(CHANGED, arg=[MN_READOUT, first], timeout=30_000)
                await asyncio.wait_for(night, 60)
                await page.wait_for_timeout(500)  # the last snapshot's repaint
                last = await readout.inner_text()
                ARTIFACTS.mkdir(exist_ok=True)
                await page.screenshot(path=str(ARTIFACTS / "board.png"), full_page=True)
                await browser.close()
                return first, last
        finally:
            night.cancel()
            await gateway.cleanup()

    first, last = asyncio.run(asyncio.wait_for(scenario(), 150))
    assert first.startswith("Harris ")
    assert first != last
    assert last == state_result("MN", 40, counted(MN_FINAL, 0.9), expected=3_300_000)["readout"]
    assert (ARTIFACTS / "board.png").stat().st_size > 10_000
