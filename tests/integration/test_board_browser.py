"""The live board in a real headless Chromium (Debian's), fed by the real pipeline.

A `votewire worker` and a `votewire gateway` run as child processes on the session broker;
the bundled Minnesota 2024 night is replayed into them while the board is open. The board
must show Minnesota's president readout, change it live as newer snapshots arrive over
/v1/stream, end on the official result, and leave a screenshot in test-artifacts/board.png
for a human to look at. Its county map must draw all 87 Minnesota counties and shade named
counties by the leaders of their final county snapshots (test-artifacts/board-map.png).
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from streams.gateway.server import STATIC
from streams.geo.atlas import fetch_atlas
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
# The official final (tests/fixtures/README.md). The readout alone can't tell a snapshot taken
# halfway through the last batch of county reports from the complete one: both round alike.
MN_OFFICIAL_VOTES = ["1,656,979 votes", "1,519,032 votes"]
MN_NEEDS = f'[data-key="{MN_PRESIDENT}"] .needs'
# Every MN readout and needs line the board shows, in order: `window.mnReadouts`, `window.mnNeeds`.
RECORD_READOUTS = """
window.mnReadouts = [];
window.mnNeeds = [];
new MutationObserver(() => {
  for (const [sel, seen] of [[READOUT, window.mnReadouts], [NEEDS, window.mnNeeds]]) {
    const el = document.querySelector(sel);
    if (el && seen[seen.length - 1] !== el.textContent) seen.push(el.textContent);
  }
}).observe(document, {childList: true, subtree: true});
""".replace("READOUT", json.dumps(MN_READOUT)).replace("NEEDS", json.dumps(MN_NEEDS))
MN_COUNTIES = f'[data-key="{MN_PRESIDENT}"] svg path.county'
COUNT_AT_LEAST = "([sel, n]) => document.querySelectorAll(sel).length >= Number(n)"
# Hennepin and Ramsey (Minneapolis, St Paul) went to Harris, Stearns (St Cloud) to Trump.
NAMED_COUNTIES = {"27053": "DFL", "27123": "DFL", "27145": "R"}
SHADED = ("([sel, side, leader]) => { const p = document.querySelector(sel); "
          "return p && p.dataset.side === side && p.dataset.leader === leader; }")
FILL = "(sel) => getComputedStyle(document.querySelector(sel)).fill"
# The first snapshot after polls close has no votes yet: that is the real night.
# Counted against the expected vote once an estimate is known; before it arrives (the first
# seconds of a replay, when a unit has reported before the estimate's record), against precincts.
READOUT = re.compile(r"^(No votes counted yet|\w+ \d+\.\d% · \w+ \d+\.\d%) · "
                     r"\d+% of (expected vote counted|precincts reporting)$")


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
                await check_the_county_map(page, board_url)
                needs = await page.evaluate("window.mnNeeds")
                assert any(re.fullmatch(r"(Harris|Trump) needs \d+\.\d% of the remaining [\d,]+ expected votes", n)
                           for n in needs), needs
                assert await page.locator(MN_NEEDS).count() == 0  # certified: nothing left to need
                card_text = await page.locator(MN_CARD).inner_text()
                assert "U.S. President & Vice President" in card_text
                assert "Certified: the count is final." in card_text
            finally:
                await browser.close()
        return seen, last, changed_during_replay

    fetch_atlas(Settings.from_env())  # as `make install` does, where the gateway (same env) looks; cached
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


def final_counties(board_url: str) -> dict[str, dict[str, Any]]:
    """The gateway's final MN president county snapshots, by FIPS."""
    url = f"{board_url}v1/results/2024-11-05/president/MN/counties"
    with urllib.request.urlopen(url, timeout=10) as resp:
        return {c["county_fips"]: c for c in json.load(resp)["counties"]}


def side_of(party: str) -> str:
    mapping = json.loads((STATIC / "parties.json").read_text(encoding="utf-8"))
    return str(mapping["sides"].get(party.upper(), mapping["other"]))


def rgb(css: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", css)[:3])


async def check_the_county_map(page: Page, board_url: str) -> None:
    """All 87 counties drawn; three named ones shaded by their final leaders; a screenshot."""
    await wait_until(page, COUNT_AT_LEAST, [MN_COUNTIES, "87"], 30, "the MN county map")
    assert await page.locator(MN_COUNTIES).count() == 87
    counties = final_counties(board_url)
    assert len(counties) == 87
    for fips, party in NAMED_COUNTIES.items():
        final = counties[fips]
        leader = next(c for c in final["candidates"] if c["candidate_id"] == final["leader"])
        assert leader["party"] == party, (fips, leader)
        path = f'{MN_COUNTIES}[data-fips="{fips}"]'
        await wait_until(page, SHADED, [path, side_of(party), final["leader"]], 30, f"county {fips} shaded")
        red, _, blue = rgb(await page.evaluate(FILL, path))
        assert (blue > red) if party == "DFL" else (red > blue), (fips, red, blue)
    await page.locator(MN_CARD).scroll_into_view_if_needed()
    await page.locator(f"{MN_CARD} figure.county-map").screenshot(path=str(ARTIFACTS / "board-map.png"))
    assert (ARTIFACTS / "board-map.png").stat().st_size > 10_000
