"""The live board in a real headless Chromium (Debian's), fed by the real pipeline, and the embeds.

A `votewire worker` and a `votewire gateway` run as child processes on the session broker;
the bundled Minnesota 2024 night is replayed into them while the board is open. The board
must show Minnesota's president readout, change it live as newer snapshots arrive over
/v1/stream, end on the official result, and leave screenshots in test-artifacts/ for a human
to look at (board.png at 1400 px, board-400.png at phone width). Its county map must draw all
87 Minnesota counties and shade named counties by the leaders of their final county snapshots
(test-artifacts/board-map.png). All night no check mark may appear (no race is called), times
are Minnesota's (CST) and alerts name counties.

A second test serves hand-written snapshots from an in-process gateway (no broker): a called
race gets its check mark beside the winner only (a vote-for-2 race beside both), a retracted call
and a runoff are said in words with no mark (the retracted card stands out, the runoff race is
tagged), incumbents are marked, a state without a known zone says UTC, and the script-free embed
of a race can be screenshot by headless Chromium from the command line.
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

from streams.gateway.live import LiveResults
from streams.gateway.places import as_of_text
from streams.gateway.server import STATIC, build_app, serve_app
from streams.geo.atlas import fetch_atlas
from streams.localkafka.kafka_local import free_port
from streams.settings import Settings
from tests.integration.pipeline import MN_OFFICIAL_READOUT, MN_PRESIDENT, live_pipeline, replay_mn_night
from tests.support.examples import state_result

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
# The names of a card's candidates shown with a check mark, as text or as CSS generated content.
MARKED = """(card) => [...document.querySelectorAll(card + " .candidate")].filter((row) =>
  row.textContent.includes("✓") || [...row.querySelectorAll("*")].some((el) =>
    getComputedStyle(el, "::after").content.includes("✓") || getComputedStyle(el, "::before").content.includes("✓"))
).map((row) => row.querySelector(".name").textContent.replace("✓", "").trim())"""
# Every MN readout and needs line the board shows, in order (`window.mnReadouts`, `window.mnNeeds`),
# the readouts at which a check mark was on the MN card (`window.mnMarked`), every alert line.
RECORD_READOUTS = """
window.mnReadouts = [];
window.mnNeeds = [];
window.mnMarked = [];
window.alertLines = new Set();
const marked = MARKED;
new MutationObserver(() => {
  for (const [sel, seen] of [[READOUT, window.mnReadouts], [NEEDS, window.mnNeeds]]) {
    const el = document.querySelector(sel);
    if (el && seen[seen.length - 1] !== el.textContent) seen.push(el.textContent);
  }
  const readout = document.querySelector(READOUT);
  if (readout && marked(CARD).length) window.mnMarked.push(readout.textContent);
  for (const li of document.querySelectorAll("#alerts li")) window.alertLines.add(li.textContent);
}).observe(document, {childList: true, subtree: true});
""".replace("READOUT", json.dumps(MN_READOUT)).replace("NEEDS", json.dumps(MN_NEEDS)).replace(
    "MARKED", MARKED).replace("CARD", json.dumps(MN_CARD))
# Each candidate's name and share, the boxes of their text as drawn (a range over the text, not
# the element, whose box a grid stretches to its column): they must not overlap, and stand apart.
ROW_BOXES = """(card) => [...document.querySelectorAll(card + " .candidate")].map((row) => {
  const box = (sel) => { const range = document.createRange();
                         range.selectNodeContents(row.querySelector(sel));
                         const r = range.getBoundingClientRect();
                         return [r.left, r.top, r.right, r.bottom]; };
  return {name: row.querySelector(".name").textContent, nameBox: box(".name"), pctBox: box(".pct")};
})"""
MIN_GAP_PX = 8
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
                page = await browser.new_page(viewport={"width": 1400, "height": 900})
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
                await check_no_mark_times_and_alerts(page, board_url)
                await check_phone_layout(page, MN_CARD, "board-400.png")
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


async def check_no_mark_times_and_alerts(page: Page, board_url: str) -> None:
    """No check mark all night (no race is called: past 51% counted and at the end alike);
    "as of" in Minnesota's own zone; alerts name the state and the county, in Minnesota's time."""
    seen = await page.evaluate("window.mnReadouts")
    assert any(int(m[1]) >= 51 for t in seen if (m := re.search(r"(\d+)% of expected", t))), seen
    assert await page.evaluate("window.mnMarked") == []
    assert await page.evaluate(MARKED, MN_CARD) == []
    final = json.load(urllib.request.urlopen(f"{board_url}v1/results/2024-11-05/president/MN", timeout=10))
    as_of = await page.locator(f"{MN_CARD} .as-of").inner_text()
    assert as_of == f"as of {as_of_text(final['as_of'], 'MN')}"
    assert re.fullmatch(r"as of [A-Z][a-z]{2} \d{1,2}, 2024, \d{1,2}:\d\d [AP]M CST", as_of), as_of
    assert "Minnesota" in await page.locator(f"{MN_CARD} h2").inner_text()
    lines = await page.evaluate("[...window.alertLines]")
    assert lines
    assert all(re.match(r"[A-Z][a-z]{2} \d{1,2}, \d{1,2}:\d\d [AP]M C[SD]TMinnesota: ", line) for line in lines), lines
    assert not [line for line in lines if re.search(r"[Cc]ounty \d{5}", line)], lines
    assert [line for line in lines if re.search(r"Minnesota: [A-Z][a-z. ]+ County lowered", line)], lines


async def check_phone_layout(page: Page, card: str, screenshot: str) -> None:
    """At 400 px every candidate's name and share stand apart (bounding boxes), and a screenshot."""
    await page.set_viewport_size({"width": 400, "height": 900})
    await page.wait_for_timeout(300)  # one layout pass
    rows = await page.evaluate(ROW_BOXES, card)
    assert rows
    for row in rows:
        (_, _, name_right, name_bottom), (pct_left, pct_top, pct_right, _) = row["nameBox"], row["pctBox"]
        beside = pct_left - name_right >= MIN_GAP_PX  # a gap between them
        below = pct_top >= name_bottom  # or the share under the name
        assert beside or below, row
        assert max(pct_right, name_right) <= 400, row  # nothing off the screen
    await page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)


def snapshot(race: str, state: str, people: list[tuple[str, str, str, int]], **extra: Any) -> dict[str, Any]:
    """A hand-written `state-result/1`: `people` as (candidate_id, name, party, votes), most first."""
    votes = {cid: n for cid, _, _, n in people}
    expected = round(sum(votes.values()) / 0.51)  # 51% counted
    base = state_result(state, 7, votes, race=race, expected=expected, as_of="2024-11-06T03:40:00Z")
    named = {cid: (name, party) for cid, name, party, _ in people}
    for c in base["candidates"]:
        c["name"], c["party"] = named[c["candidate_id"]]
    return {**base, "office": race.title(), **extra}


PRESIDENT = [("harris", "Kamala D. Harris and Tim Walz", "DFL", 1_656_979),
             ("trump", "Donald J. Trump and JD Vance", "R", 1_519_032)]
SENATE = [("klobuchar", "Amy Klobuchar", "DFL", 1_792_441), ("white", "Royce White", "R", 1_291_712)]
CALL = {"status": "called", "winners": ["klobuchar"], "by": "AP", "at": "2024-11-06T02:00:05Z"}
GA_SENATE = [("perdue", "David Perdue", "REP", 2_462_617), ("ossoff", "Jon Ossoff", "DEM", 2_374_519),
             ("hazel", "Shane Hazel", "LIB", 115_039)]
RUNOFF = {"status": "runoff", "winners": ["perdue", "ossoff"], "by": "AP", "at": "2020-11-07T04:00:00Z"}
RETRACTED = {"status": "retracted", "winners": [], "by": "Votewire Desk", "at": "2024-11-06T03:10:00Z"}
COMMISSION = [("ortiz", "Ana Ortiz", "DFL", 51_000), ("lee", "Sam Lee", "R", 48_500),
              ("park", "Jo Park", "DFL", 40_100), ("ward", "Kim Ward", "R", 39_900)]
TWO_CALLED = {"status": "called", "winners": ["ortiz", "lee"], "by": "Votewire Desk", "at": "2024-11-06T05:00:00Z"}
STILL = "/embed/2024-11-05/senate/MN"


@pytest.mark.timeout(120)
def test_only_a_called_race_has_a_check_mark_and_the_embed_is_a_still(tmp_path: Path) -> None:
    live = LiveResults()
    live.ingest("state", snapshot("president", "MN", PRESIDENT))  # 51% counted, a clear leader, no call
    live.ingest("state", snapshot("senate", "MN", SENATE, call=CALL))
    live.ingest("state", snapshot("president", "GU", PRESIDENT))  # no zone known for it: UTC
    live.ingest("state", snapshot("senate", "GA", GA_SENATE, call=RUNOFF, win_threshold=50.0))
    live.ingest("state", snapshot("governor", "MN", SENATE, call=RETRACTED))
    commission = snapshot("commission-27053", "MN", COMMISSION, call=TWO_CALLED, seats=2)
    commission["candidates"][0]["incumbent"] = True
    live.ingest("state", commission)
    live.ingest("state", ESTIMATED)  # no published expected vote: the model's estimate

    async def scenario() -> None:
        addr = f"127.0.0.1:{free_port()}"
        runner = await serve_app(build_app(live), addr)
        try:
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    await check_called_board(await browser.new_page(viewport={"width": 1400, "height": 900}), addr)
                    await check_embed_page(await browser.new_page(viewport={"width": 640, "height": 420}), addr)
                finally:
                    await browser.close()
            await screenshot_from_the_command_line(f"http://{addr}{STILL}", tmp_path / "chromium-profile")
        finally:
            await runner.cleanup()

    ARTIFACTS.mkdir(exist_ok=True)
    asyncio.run(asyncio.wait_for(scenario(), 100))


async def check_called_board(page: Page, addr: str) -> None:
    await page.goto(f"http://{addr}/", timeout=30_000)
    cards = {race: f'[data-key="2024-11-05/{race}/live"]'
             for race in ("president/MN", "senate/MN", "president/GU", "estimate/MN")}
    for card in cards.values():
        await page.wait_for_function(SHOWN, arg=[f"{card} .as-of"], timeout=20_000)
    assert await page.evaluate(MARKED, cards["president/MN"]) == []
    assert await page.evaluate(MARKED, cards["president/GU"]) == []
    assert await page.evaluate(MARKED, cards["senate/MN"]) == ["Amy Klobuchar (DFL)"]
    assert "Called for Amy Klobuchar by AP" in await page.locator(cards["senate/MN"]).inner_text()
    assert await page.locator(f'{cards["president/MN"]} .as-of').inner_text() == "as of Nov 5, 2024, 9:40 PM CST"
    assert await page.locator(f'{cards["president/GU"]} .as-of').inner_text() == "as of Nov 6, 2024, 3:40 AM UTC"
    assert (await page.locator(f'{cards["senate/MN"]} h2 .state').inner_text()) == "Minnesota"
    await check_runoff_retraction_and_two_seats(page)
    await check_the_models_estimate(page, cards["estimate/MN"])
    await page.screenshot(path=str(ARTIFACTS / "board-called.png"), full_page=True)
    await check_phone_layout(page, "main", "board-called-400.png")


async def check_runoff_retraction_and_two_seats(page: Page) -> None:
    """A runoff is tagged and named in words, a retraction stands out; neither has a check mark. A
    vote-for-2 race called for two has two marks, and its incumbent is marked."""
    runoff, retracted = '[data-key="2024-11-05/senate/GA/live"]', '[data-key="2024-11-05/governor/MN/live"]'
    commission = '[data-key="2024-11-05/commission-27053/MN/live"]'
    for card in (runoff, retracted, commission):
        await page.wait_for_function(SHOWN, arg=[f"{card} .as-of"], timeout=20_000)
    assert await page.locator(f"{runoff} .tag-runoff").inner_text() == "RUNOFF"  # upper-cased by the CSS
    assert await page.locator(f"{runoff} .call").inner_text() == \
        "Runoff: David Perdue and Jon Ossoff advance by AP · Nov 6, 2020, 11:00 PM EST"
    assert await page.evaluate(MARKED, runoff) == []
    assert await page.locator(f"{retracted} .call").inner_text() == \
        "Call retracted by Votewire Desk · Nov 5, 2024, 9:10 PM CST: no winner declared"
    assert await page.evaluate(MARKED, retracted) == []
    assert "retracted" in (await page.locator(retracted).get_attribute("class") or "")
    red, _, blue = rgb(await page.evaluate("(sel) => getComputedStyle(document.querySelector(sel)).color",
                                           f"{retracted} .call"))
    assert red > blue  # said in the alarm colour, not the called green
    assert await page.evaluate(MARKED, commission) == ["Ana Ortiz (DFL) incumbent", "Sam Lee (R)"]
    assert await page.locator(f"{commission} .tag-seats").inner_text() == "VOTE FOR 2"
    await page.locator(runoff).screenshot(path=str(ARTIFACTS / "board-runoff.png"))
    await page.locator(retracted).screenshot(path=str(ARTIFACTS / "board-retracted.png"))
# The worker's own snapshot of the Minnesota night at 06:10 UTC with the 2020 baseline and no
# published expected vote (schemas/examples), under a race id of its own beside the others.
ESTIMATED = {**json.loads((Path(__file__).resolve().parents[2] / "schemas" / "examples" / "state-result" / "valid"
                           / "model-estimate-without-a-published-expected-vote.json").read_text(encoding="utf-8")),
             "race_id": "estimate"}


async def check_the_models_estimate(page: Page, card: str) -> None:
    """The counted figure says it is the model's, with its 90% range; the vote left is the model's per county."""
    low, high = ESTIMATED["model_expected_range"]["90"]  # 2,849,917 and 3,527,701
    assert (low, high, ESTIMATED["pct_expected_counted"]) == (2_849_917, 3_527_701, 75.5)
    assert await page.locator(f"{card} .counted .label").inner_text() == "about 75% counted (est.), expected 2.8M–3.5M"
    assert (await page.locator(f"{card} .readout").inner_text()).endswith("about 75% of expected vote counted (est.)")
    table = page.locator(f"{card} .vote-left table")
    assert "as the model estimates it" in await table.locator("caption").inner_text()
    first = ESTIMATED["counties_outstanding"][0]
    assert await table.locator("tbody tr td.num").first.inner_text() == f"{first['votes_outstanding']:,}"


async def check_embed_page(page: Page, addr: str) -> None:
    response = await page.goto(f"http://{addr}{STILL}", timeout=30_000)
    assert response is not None
    assert response.status == 200
    assert await page.locator("script").count() == 0
    text = await page.locator("body").inner_text()
    assert "Minnesota" in text
    assert "as of Nov 5, 2024, 9:40 PM CST" in text
    assert await page.evaluate(MARKED, "body") == ["Amy Klobuchar DFL"]
    await page.locator("article").screenshot(path=str(ARTIFACTS / "embed.png"))
    await page.goto(f"http://{addr}{STILL}.svg", timeout=30_000)
    await page.screenshot(path=str(ARTIFACTS / "embed-svg.png"), clip={"x": 0, "y": 0, "width": 600, "height": 315})


async def screenshot_from_the_command_line(url: str, profile: Path) -> None:
    """`chromium --headless --screenshot` of the embed completes (of the board it never does: its
    event stream keeps the page loading); the still is written and is a real picture."""
    shot = ARTIFACTS / "embed-cli.png"
    shot.unlink(missing_ok=True)
    proc = await asyncio.create_subprocess_exec(
        CHROMIUM, *CHROMIUM_ARGS, f"--user-data-dir={profile}", "--hide-scrollbars", "--window-size=640,420",
        "--virtual-time-budget=5000", f"--screenshot={shot}", url,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        assert await asyncio.wait_for(proc.wait(), 60) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert shot.stat().st_size > 5_000
