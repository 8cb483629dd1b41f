"""The embeddable still of a race: pure rendering (snapshot -> HTML, SVG) and its HTTP routes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from streams.gateway.embed import card_html, card_svg, race_card, winners_of
from streams.gateway.live import LiveResults
from tests.support.examples import state_result
from tests.unit.test_gateway_http import serve

SVG = "{http://www.w3.org/2000/svg}"
EMBED = "/embed/2024-11-05/president/MN"
CALLED = {"status": "called", "winners": ["harris"], "by": "AP", "at": "2024-11-06T04:12:00Z"}


def svg_text(svg: str) -> str:
    """The text a reader of the image sees (parsing also proves the SVG is well-formed XML)."""
    return " ".join("".join(t.itertext()) for t in ET.fromstring(svg).iter(f"{SVG}text"))


def test_the_card_says_the_state_office_shares_count_and_time_in_the_races_zone() -> None:
    card = race_card({**state_result(version=3), "office": "U.S. President"})
    assert (card.place, card.office, card.test) == ("Minnesota", "U.S. President", False)
    assert [(c.name, c.party, c.side, c.pct, c.votes) for c in card.candidates] == [
        ("Kamala D. Harris", "DFL", "dem", 52.4, 3_000), ("Donald J. Trump", "REP", "rep", 47.1, 2_700),
        ("Chase Oliver", "LIB", "other", 0.5, 30)]
    assert card.counted == "0% of expected vote counted"
    assert card.as_of == "Nov 5, 2024, 8:00 PM CST"  # 02:00 UTC, the evening before in Minnesota
    html = card_html(card)
    assert "Minnesota" in html
    assert "3,000 votes" in html
    assert "as of Nov 5, 2024, 8:00 PM CST" in html
    assert "Minnesota" in svg_text(card_svg(card))
    assert "52.4%" in svg_text(card_svg(card))


def test_a_count_of_the_models_estimate_says_so() -> None:
    estimated = {**state_result(version=3), "expected_votes": None, "pct_expected_counted": 75.4,
                 "expected_vote_source": "model"}
    card = race_card(estimated)
    assert card.counted == "about 75% of expected vote counted (est.)"
    assert "(est.)" in svg_text(card_svg(card))


def test_no_check_mark_without_a_call_even_for_a_clear_leader_at_the_end() -> None:
    final = {**state_result(version=3, votes={"harris": 2_000_000, "trump": 1_000_000}, expected=3_000_000),
             "certified": True, "pct_expected_counted": 100.0}
    for snapshot in (final, {**final, "call": {"status": "too_close", "winners": ["harris"]}},
                     {**final, "call": {"status": "called", "winners": "harris"}}, {**final, "call": "harris"}):
        card = race_card(snapshot)
        assert not any(c.called for c in card.candidates)
        assert card.call == ""
        assert "✓" not in card_html(card)
        assert "✓" not in card_svg(card)


def test_a_called_race_marks_its_winner_and_says_who_called_it() -> None:
    card = race_card({**state_result(version=3), "call": CALLED})
    assert [c.called for c in card.candidates] == [True, False, False]
    assert card.call == "Called for Kamala D. Harris by AP"
    html = card_html(card)
    assert html.count("✓") == 1
    assert html.index("Kamala D. Harris") < html.index("✓") < html.index("Donald J. Trump")
    assert "Called for Kamala D. Harris by AP · as of" in html
    assert svg_text(card_svg(card)).count("✓") == 1
    assert winners_of({"call": {**CALLED, "winners": ["harris", 7, None]}}) == {"harris"}


def hostile_snapshot() -> dict[str, Any]:
    snapshot = state_result(version=2)
    snapshot["candidates"][0] = {**snapshot["candidates"][0], "name": '<script>alert("x")</script> & Co',
                                 "party": "<b>DFL</b>"}
    return {**snapshot, "office": 'U.S. "President" <img src=x onerror=alert(1)>',
            "call": {"status": "called", "winners": ["harris"], "by": "<i>AP</i>"}}


def test_every_text_from_a_feed_is_escaped() -> None:
    card = race_card(hostile_snapshot())
    html = card_html(card)
    assert "<script" not in html.lower()
    assert not [tag for tag in ("<img", "<b>", "<i>") if tag in html]
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in html
    text = svg_text(card_svg(card))  # well-formed XML: nothing broke out of its element
    assert '<script>alert("x")</script> & Co' in text
    assert 'U.S. "President" <img src=x onerror=alert(1)>' in text


def test_the_image_shortens_a_long_name_and_survives_bad_figures() -> None:
    snapshot = state_result(version=2)
    snapshot["candidates"][0] = {**snapshot["candidates"][0], "name": "A" * 80, "pct": "many", "votes": None}
    snapshot["pct_expected_counted"] = float("nan")
    card = race_card(snapshot)
    assert (card.candidates[0].pct, card.candidates[0].votes) == (0.0, 0)
    assert "A" * 37 + "…" in svg_text(card_svg(card))
    assert "A" * 80 in card_html(card)  # the page wraps it instead


@pytest.mark.parametrize(("suffix", "content_type"), [("", "text/html"), (".svg", "image/svg+xml")])
def test_embed_is_cached_by_the_snapshot_version_with_304(suffix: str, content_type: str) -> None:
    async def scenario(client: TestClient, live: LiveResults) -> None:
        live.ingest("state", state_result(version=1))
        first = await client.get(EMBED + suffix)
        assert first.status == 200
        assert first.content_type == content_type
        assert first.headers["Cache-Control"] == "public, max-age=10"
        assert "script-src" not in first.headers["Content-Security-Policy"]  # default-src 'none' forbids scripts
        assert first.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert "Minnesota" in await first.text()
        etag = first.headers["ETag"]
        assert (await client.get(EMBED + suffix, headers={"If-None-Match": etag})).status == 304
        live.ingest("state", state_result(version=2))
        newer = await client.get(EMBED + suffix, headers={"If-None-Match": etag})
        assert newer.status == 200
        assert newer.headers["ETag"] != etag
        assert newer.headers["ETag"].endswith('-v2"')

    serve(scenario)


def test_html_and_image_have_different_etags_and_head_works() -> None:
    async def scenario(client: TestClient, live: LiveResults) -> None:
        live.ingest("state", state_result(version=1))
        page, image = await client.get(EMBED), await client.get(EMBED + ".svg")
        assert page.headers["ETag"] != image.headers["ETag"]
        head = await client.head(EMBED + ".svg")
        assert head.status == 200
        assert head.headers["ETag"] == image.headers["ETag"]

    serve(scenario)


def test_an_unknown_race_is_a_clear_404() -> None:
    async def scenario(client: TestClient, live: LiveResults) -> None:
        for path in ("/embed/2024-11-05/president/ZZ", "/embed/2024-11-05/president/ZZ.svg"):
            resp = await client.get(path)
            assert resp.status == 404
            assert await resp.text() == ("no race 2024-11-05/president/ZZ to embed (mode live): "
                                         "/v1/races lists the races served\n")
            assert resp.headers["Cache-Control"] == "no-store"

    serve(scenario)


def test_test_data_is_embedded_only_by_a_gateway_started_to_show_it() -> None:
    async def hidden(client: TestClient, live: LiveResults) -> None:
        live.ingest("state", state_result(version=1, mode="test"))
        assert (await client.get(EMBED + "?mode=test")).status == 404
        assert (await client.get(EMBED)).status == 404  # and never as live

    async def shown(client: TestClient, live: LiveResults) -> None:
        live.ingest("state", state_result(version=1, mode="test"))
        live.ingest("state", state_result(version=1))
        test, real = await client.get(EMBED + "?mode=test"), await client.get(EMBED)
        assert ">TEST<" in await test.text()
        assert ">TEST<" not in await real.text()
        assert test.headers["ETag"] != real.headers["ETag"]  # same version, other mode

    serve(hidden)
    serve(shown, show_test=True)


def test_an_embed_says_a_runoff_and_a_retraction_in_words_and_marks_neither() -> None:
    from streams.gateway.embed import call_text, race_card, winners_of

    people = [{"candidate_id": "ossoff", "name": "Jon Ossoff"}, {"candidate_id": "perdue", "name": "David Perdue"}]
    runoff = {"call": {"status": "runoff", "winners": ["perdue", "ossoff"], "by": "AP", "at": "2024-11-06T05:00:00Z"},
              "candidates": people}
    retracted = {"call": {"status": "retracted", "winners": [], "by": "Desk", "at": "2024-11-06T05:00:00Z"},
                 "candidates": people}
    assert call_text(runoff, people, winners_of(runoff)) == "Runoff: Jon Ossoff and David Perdue advance by AP"
    assert call_text(retracted, people, winners_of(retracted)) == "Call retracted by Desk: no winner declared"
    assert not any(line.called for line in race_card(runoff).candidates)  # no check mark for a runoff
