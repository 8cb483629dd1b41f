"""`/embed/{election}/{race}/{state}` and `….svg`: a still of one race for an article or a social card.

Server-rendered from the latest snapshot, with no script and no stream, so a page can iframe it,
an `<img>` can show the SVG, and a headless browser's screenshot of it completes (the board's
never does: its event stream stays open). Both are pure functions of the snapshot (`race_card`,
then `card_html` or `card_svg`), tested without a server.

Every text a feed wrote (candidate and party names, the office) is escaped. A check mark means a
race call and nothing else: it is drawn only beside a winner of the snapshot's `call` when that
call's status is `called`; a runoff and a retraction are said in words (`call_text`).
The routes follow the gateway's: the same `?mode=test` (served only by a gateway started with
`--show-test`), a 404 for a race it does not hold, an ETag from the snapshot's key, mode and
version (so a 304 until a newer snapshot), and a short cache life.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from html import escape
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from streams.gateway.places import as_of_text, place_of
from streams.gateway.routes import cached, snapshot_etag, snapshot_for
from streams.gateway.store import Message

EMBED_CACHE = "public, max-age=10"  # a still may be ten seconds behind; the ETag makes refreshing cheap
# Nothing but the inline styles may load or run: no script, no image, no font, no connection.
EMBED_CSP = "default-src 'none'; style-src 'unsafe-inline'"
SHOWN_CANDIDATES = 3
PARTIES_FILE = Path(__file__).resolve().parent / "static" / "parties.json"


@dataclass(frozen=True, slots=True)
class CandidateLine:
    name: str
    party: str
    side: str  # "dem", "rep" or "other": the board's party colours
    pct: float
    votes: int
    called: bool  # a winner of a called race


@dataclass(frozen=True, slots=True)
class RaceCard:
    place: str  # "Minnesota"
    office: str
    election_id: str
    test: bool
    candidates: tuple[CandidateLine, ...]
    counted_pct: float
    counted: str  # "76% of expected vote counted"
    readout: str
    call: str  # "Called for Harris by AP" or ""
    as_of: str  # "Nov 5, 2024, 9:40 PM CST" or ""


@cache
def party_sides() -> dict[str, str]:
    """The board's one party -> colour side mapping (static/parties.json)."""
    sides: dict[str, str] = orjson.loads(PARTIES_FILE.read_bytes())["sides"]
    return sides


def number(value: object) -> float:
    """A figure from a snapshot, or 0 for anything that is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return 0.0
    return float(value)


def winners_of(snapshot: Message) -> frozenset[str]:
    """The candidate ids a `called` call names; none without a call, or with another status."""
    call = snapshot.get("call")
    if not isinstance(call, dict) or call.get("status") != "called" or not isinstance(call.get("winners"), list):
        return frozenset()
    return frozenset(w for w in call["winners"] if isinstance(w, str))


def race_card(snapshot: Message) -> RaceCard:
    state = str(snapshot.get("state", ""))
    winners = winners_of(snapshot)
    candidates = [c for c in snapshot.get("candidates") or [] if isinstance(c, dict)]
    pct, counted = counted_of(snapshot)
    return RaceCard(place_of(state).name, str(snapshot.get("office") or snapshot.get("race_id", "")),
                    str(snapshot.get("election_id", "")), snapshot.get("mode") == "test",
                    tuple(candidate_line(c, winners) for c in candidates[:SHOWN_CANDIDATES]), pct, counted,
                    str(snapshot.get("readout") or ""), call_text(snapshot, candidates, winners),
                    as_of_text(snapshot.get("as_of"), state))


def candidate_line(c: dict[str, Any], winners: frozenset[str]) -> CandidateLine:
    party = str(c.get("party") or "")
    return CandidateLine(str(c.get("name", "")), party, party_sides().get(party.upper(), "other"),
                         number(c.get("pct")), int(number(c.get("votes"))), c.get("candidate_id") in winners)


def counted_of(snapshot: Message) -> tuple[float, str]:
    """The counted bar and its label, as the board says it (whole percents, floored)."""
    expected = snapshot.get("pct_expected_counted")
    if expected is not None and snapshot.get("expected_vote_source") == "model":  # the model's estimate, said so
        return number(expected), f"about {math.floor(number(expected))}% of expected vote counted (est.)"
    if expected is not None:
        return number(expected), f"{math.floor(number(expected))}% of expected vote counted"
    precincts = number(snapshot.get("pct_precincts_reporting"))
    return precincts, f"{math.floor(precincts)}% of precincts reporting"


def call_text(snapshot: Message, candidates: list[dict[str, Any]], winners: frozenset[str]) -> str:
    """"Called for X by AP", "Runoff: X and Y advance (AP)", "Call retracted by AP", or ""."""
    call = snapshot.get("call")
    if not isinstance(call, dict):
        return ""
    by = f" by {call['by']}" if isinstance(call.get("by"), str) and call["by"] else ""
    if call.get("status") == "retracted":
        return f"Call retracted{by}: no winner declared"
    named = winners or frozenset(w for w in call.get("winners") or () if isinstance(w, str))
    names = " and ".join([str(c.get("name", "")) for c in candidates if c.get("candidate_id") in named]
                         or sorted(named))
    if call.get("status") == "runoff" and names:
        return f"Runoff: {names} advance{by}"
    return f"Called for {names}{by}" if winners else ""


def card_html(card: RaceCard) -> str:
    rows = "".join(candidate_html(c) for c in card.candidates)
    badge = ' <span class="badge">TEST</span>' if card.test else ""
    foot = " · ".join(t for t in (card.call, f"as of {card.as_of}" if card.as_of else "") if t)
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(card.place)} · {escape(card.office)}</title>"
            f'<meta name="description" content="{escape(card.readout)}"><style>{EMBED_STYLE}</style></head>'
            f'<body><article class="card"><header><h1>{escape(card.place)}{badge}</h1>'
            f'<p class="office">{escape(card.office)} · {escape(card.election_id)}</p></header>'
            f'<ol class="candidates">{rows}</ol>'
            f'<p class="counted">{escape(card.counted)}{bar_html(card.counted_pct)}</p>'
            f'<p class="readout">{escape(card.readout)}</p><p class="foot">{escape(foot)}</p>'
            f"</article></body></html>\n")


def candidate_html(c: CandidateLine) -> str:
    mark = ' <span class="call-mark" title="race called: winner">✓</span>' if c.called else ""
    party = f' <span class="party">{escape(c.party)}</span>' if c.party else ""
    return (f'<li class="candidate side-{escape(c.side)}"><span class="name">{escape(c.name)}{party}{mark}</span>'
            f'<span class="pct">{c.pct:.1f}%</span><span class="votes">{c.votes:,} votes</span>'
            f"{bar_html(c.pct)}</li>")


def bar_html(pct: float) -> str:
    return f'<span class="bar"><span style="width:{max(0.0, min(100.0, pct)):.1f}%"></span></span>'


EMBED_STYLE = (
    ":root{--dem:#1f6fd1;--rep:#d1332e;--other:#8a7a50;--muted:#555;--counted:#c79a00}"
    "body{margin:0;font-family:'DejaVu Sans','Helvetica Neue',Arial,sans-serif;color:#111;background:#fff}"
    ".card{max-width:600px;padding:16px 20px;border:1px solid #ccc;box-sizing:border-box}"
    "h1{margin:0;font-size:28px}.office{margin:2px 0 10px;color:var(--muted);font-size:15px}"
    ".badge{background:var(--counted);font-size:14px;padding:0 4px;vertical-align:middle}"
    ".candidates{list-style:none;margin:0;padding:0}"
    ".candidate{display:grid;grid-template-columns:minmax(0,1fr) auto;column-gap:12px;margin:8px 0}"
    ".name{font-weight:bold;overflow-wrap:anywhere}.party{color:var(--muted);font-weight:normal}"
    ".pct{font-weight:bold;font-size:22px;font-variant-numeric:tabular-nums}"
    ".votes{color:var(--muted);font-size:13px}"
    ".bar{grid-column:1/-1;display:block;height:8px;background:#e6e6e6}"
    ".bar>span{display:block;height:100%;background:var(--other)}"
    ".side-dem .bar>span{background:var(--dem)}.side-rep .bar>span{background:var(--rep)}"
    ".counted{margin:10px 0 0;font-size:14px;color:var(--muted)}.counted .bar{margin-top:3px}"
    ".counted .bar>span{background:var(--counted)}"
    ".readout{margin:8px 0 0;font-size:15px}.foot{margin:6px 0 0;font-size:12px;color:var(--muted)}"
)
SVG_COLOURS = {"dem": "#1f6fd1", "rep": "#d1332e", "other": "#8a7a50"}
SVG_WIDTH, SVG_HEIGHT, SVG_PAD = 600, 315, 24  # the 1.91:1 of a social card
NAME_CHARS = 38  # about what fits left of the share at 18 px
MUTED = "#555"


def card_svg(card: RaceCard) -> str:
    """The same card as a 600 x 315 SVG image (no script, no external reference)."""
    badge = ' <tspan fill="#c79a00">TEST</tspan>' if card.test else ""
    foot = " · ".join(t for t in (card.call, f"as of {card.as_of}" if card.as_of else "") if t)
    body = "".join(candidate_svg(c, 108 + 56 * i) for i, c in enumerate(card.candidates))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{SVG_WIDTH}" height="{SVG_HEIGHT}" '
            f'viewBox="0 0 {SVG_WIDTH} {SVG_HEIGHT}" role="img" aria-label="{escape(card.readout)}" '
            f"font-family=\"'DejaVu Sans', 'Helvetica Neue', Arial, sans-serif\">"
            f"<title>{escape(card.place)}: {escape(card.readout)}</title>"
            f'<rect width="{SVG_WIDTH}" height="{SVG_HEIGHT}" fill="#fff" stroke="#ccc"/>'
            + svg_text(48, 30, escape(card.place) + badge, bold=True)
            + svg_text(74, 15, f"{escape(card.office)} · {escape(card.election_id)}", fill=MUTED)
            + body
            + svg_text(SVG_HEIGHT - 42, 14, escape(card.counted), fill=MUTED)
            + bar_svg(SVG_HEIGHT - 36, card.counted_pct, "#c79a00", 5)
            + svg_text(SVG_HEIGHT - 12, 12, escape(foot), fill=MUTED) + "</svg>\n")


def candidate_svg(c: CandidateLine, y: int) -> str:
    name = c.name if len(c.name) <= NAME_CHARS else c.name[: NAME_CHARS - 1].rstrip() + "…"
    party = f' <tspan font-weight="normal" fill="{MUTED}">{escape(c.party)}</tspan>' if c.party else ""
    mark = ' <tspan class="call-mark">✓</tspan>' if c.called else ""
    return (svg_text(y, 18, escape(name) + party + mark, bold=True)
            + svg_text(y + 4, 24, f"{c.pct:.1f}%", bold=True, x=SVG_WIDTH - SVG_PAD, anchor="end")
            + svg_text(y + 20, 12, f"{c.votes:,} votes", fill=MUTED)
            + bar_svg(y + 27, c.pct, SVG_COLOURS.get(c.side, SVG_COLOURS["other"]), 8))


def svg_text(y: int, size: int, markup: str, *, fill: str = "#111", bold: bool = False, x: int = SVG_PAD,
             anchor: str = "start") -> str:
    """One line of text; `markup` is escaped already (it may hold a `tspan`)."""
    weight = ' font-weight="bold"' if bold else ""
    return f'<text x="{x}" y="{y}" font-size="{size}"{weight} text-anchor="{anchor}" fill="{fill}">{markup}</text>'


def bar_svg(y: int, pct: float, colour: str, height: int) -> str:
    width = SVG_WIDTH - 2 * SVG_PAD
    filled = width * max(0.0, min(100.0, pct)) / 100
    return (f'<rect x="{SVG_PAD}" y="{y}" width="{width}" height="{height}" fill="#e6e6e6"/>'
            f'<rect x="{SVG_PAD}" y="{y}" width="{filled:.1f}" height="{height}" fill="{colour}"/>')


async def get_embed(request: web.Request) -> web.Response:
    return embed_response(request, "html")


async def get_embed_svg(request: web.Request) -> web.Response:
    return embed_response(request, "svg")


def embed_response(request: web.Request, kind: str) -> web.Response:
    try:
        key, snapshot = snapshot_for(request)
    except web.HTTPNotFound:
        m = request.match_info
        raise web.HTTPNotFound(text=f"no race {m['election']}/{m['race']}/{m['state']} to embed "
                                    f"(mode {request.query.get('mode', 'live')}): /v1/races lists the races served\n",
                               headers={"Cache-Control": "no-store"}) from None
    card = race_card(snapshot)
    body, content_type = (card_html(card), "text/html") if kind == "html" else (card_svg(card), "image/svg+xml")
    response = cached(request, body.encode(), content_type, snapshot_etag(key, snapshot["version"], f"/embed.{kind}"))
    response.headers.update({"Cache-Control": EMBED_CACHE, "Content-Security-Policy": EMBED_CSP})
    return response


def add_embed_routes(app: web.Application) -> None:
    # The image first: `{state}` alone would also match "MN.svg".
    app.router.add_get("/embed/{election}/{race}/{state:[^/.]+}.svg", get_embed_svg)
    app.router.add_get("/embed/{election}/{race}/{state:[^/.]+}", get_embed)
