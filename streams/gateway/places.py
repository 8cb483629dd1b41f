"""Where a race is, as a reader says it: the state's full name and the clock its voters read.

The board and the embeds print "Minnesota", not "MN", and a time with its date and zone in the
race's own time zone ("Nov 5, 2024, 9:40 PM CST"), never in the reader's browser's zone: a
newsroom in New York and a reader in Berlin must see the same words. A state split between two
zones gets the zone where most of its people live (`streams/geo/geography.py` holds the names
and zones). A state not in the table is named by its code and its times are printed in UTC,
labelled so.

`/v1/states` serves the table to the board, which formats times with `Intl.DateTimeFormat` in
the same zone and the same words as `as_of_text` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

import orjson
from aiohttp import web

from streams.gateway.routes import cached
from streams.gateway.store import parse_time
from streams.geo.geography import STATE_ZONES, STATES

UTC = "UTC"
PLACES_CACHE = "public, max-age=3600"  # the table changes only with a new release
STATE_NAMES: dict[str, str] = {s.postal: s.name for s in STATES}


@dataclass(frozen=True, slots=True)
class Place:
    state: str  # USPS code
    name: str  # "Minnesota"; the code itself when unknown
    time_zone: str  # IANA zone; "UTC" when unknown


def place_of(state: str) -> Place:
    return Place(state, STATE_NAMES.get(state, state), STATE_ZONES.get(state, UTC))


def as_of_text(time: object, state: str) -> str:
    """An RFC 3339 time in the state's zone: "Nov 5, 2024, 9:40 PM CST"; "" when it is not one."""
    parsed = parse_time(time) if isinstance(time, str) else None
    if parsed is None:
        return ""
    local = parsed.astimezone(ZoneInfo(place_of(state).time_zone))
    return f"{local:%b} {local.day}, {local.year}, {clock(local)} {local:%Z}"


def clock(local: datetime) -> str:
    return f"{local.hour % 12 or 12}:{local:%M %p}"


@cache
def places_body() -> bytes:
    return orjson.dumps({"states": {p.state: {"name": p.name, "time_zone": p.time_zone}
                                    for p in map(place_of, sorted(STATE_NAMES))}})


async def get_states(request: web.Request) -> web.Response:
    response = cached(request, places_body(), "application/json")
    response.headers["Cache-Control"] = PLACES_CACHE
    return response


def add_place_routes(app: web.Application) -> None:
    app.router.add_get("/v1/states", get_states)
