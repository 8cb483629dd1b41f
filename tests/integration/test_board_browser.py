"""The live board in a real headless Chromium (Debian's), fed by the real pipeline.

A `votewire worker` and a `votewire gateway` run as child processes on the session broker;
the bundled Minnesota 2024 night is replayed into them while the board is open. The board
must show Minnesota's president readout, change it live as newer snapshots arrive over
/v1/stream, end on the official result, and leave a screenshot in test-artifacts/board.png
for a human to look at.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from streams.settings import Settings
from tests.integration.pipeline import MN_OFFICIAL_READOUT, MN_PRESIDENT, live_pipeline, replay_mn_night

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MN_READOUT = f'[data-key="{MN_PRESIDENT}"] .readout'
SHOWN = "([sel]) => document.querySelector(sel) !== null"
CHANGED = "([sel, before]) => { const el = document.querySelector(sel); return el && el.textContent !== before; }"
IS = "([sel, want]) => { const el = document.querySelector(sel); return el && el.textContent === want; }"
HAS_ALL = ("([sel, ...want]) => { const el = document.querySelector(sel); "
           "return el && want.every(w => el.textContent.includes(w)); }")
MN_CARD = f'[data-key="{MN_PRESIDENT}"]'
# The official final (../shared/data/README.md). The readout alone can't tell a snapshot taken
# halfway through the last batch of county reports from the complete one: both round alike.
MN_OFFICIAL_VOTES = ["1,656,979 votes", "1,519,032 votes"]
# Every MN readout the board shows, in order, kept in the page as `window.mnReadouts`.
RECORD_READOUTS = """
window.mnReadouts = [];
new MutationObserver(() => {
  const el = document.querySelector(SELECTOR);
  const seen = window.mnReadouts;
  if (el && seen[seen.length - 1] !== el.textContent) seen.push(el.textContent);
}).observe(document, {childList: true, subtree: true});
""".replace("SELECTOR", json.dumps(MN_READOUT))
# The first snapshot after polls close has no votes yet: that is the real night.
READOUT = re.compile(r"^(No votes counted yet|\w+ \d+\.\d% · \w+ \d+\.\d%) · \d+% of expected vote counted$")


async def wait_until(page: Page, predicate: str, arg: list[str], timeout_s: float, what: str) -> None:
    """Wait for `predicate(arg)` in the page; at the deadline, fail with the readouts seen so far."""
    try:
        await page.wait_for_function(predicate, arg=arg, timeout=timeout_s * 1000)
    except PlaywrightTimeoutError:
        seen = await page.evaluate("window.mnReadouts")
        raise AssertionError(f"{what} not within {timeout_s:.0f} s; MN readouts seen: {seen}") from None


# Inside the five minutes a test may take: starting the pipeline, the night, the checks.
@pytest.mark.timeout(290)
def test_board_shows_minnesota_changing_live_to_the_official_result(settings: Settings, tmp_path: Path) -> None:
    async def scenario(board_url: str) -> tuple[list[str], str, bool]:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1600, "height": 900})
                await page.add_init_script(RECORD_READOUTS)
                night = asyncio.create_task(replay_mn_night(settings))
                try:
                    await page.goto(board_url, timeout=30_000)
                    readout = page.locator(MN_READOUT)
                    await wait_until(page, SHOWN, [MN_READOUT], 90, "an MN president readout")
                    first = await readout.inner_text()
                    await wait_until(page, CHANGED, [MN_READOUT, first], 90, "a change of the MN readout")
                    changed_during_replay = not night.done()
                    await wait_until(page, IS, [MN_READOUT, MN_OFFICIAL_READOUT], 150, "the official MN readout")
                    await wait_until(page, HAS_ALL, [MN_CARD, *MN_OFFICIAL_VOTES], 60, "the official MN vote counts")
                    stats = await asyncio.wait_for(night, 60)
                finally:
                    night.cancel()
                assert stats.bad_lines == 0
                last = await readout.inner_text()
                seen = await page.evaluate("window.mnReadouts")
                ARTIFACTS.mkdir(exist_ok=True)
                await page.screenshot(path=str(ARTIFACTS / "board.png"), full_page=True)
            finally:
                await browser.close()
        return seen, last, changed_during_replay

    with live_pipeline(settings, tmp_path) as pipeline:
        seen, last, changed_during_replay = asyncio.run(asyncio.wait_for(scenario(f"{pipeline.gateway_url}/"), 240))
    assert changed_during_replay, "the readout only changed after the replay had ended"
    assert last == MN_OFFICIAL_READOUT
    assert seen[-1] == MN_OFFICIAL_READOUT
    assert len(seen) >= 5, seen  # live updates, not one jump to the end
    assert all(READOUT.match(text) for text in seen), seen
    # On the night Trump led the early count and Harris overtook him: the board showed both.
    assert any(text.startswith("Trump ") for text in seen), seen
    assert MN_OFFICIAL_READOUT not in seen[:-1], seen
    assert (ARTIFACTS / "board.png").stat().st_size > 10_000
