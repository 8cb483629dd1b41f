"""`/v1/maps/{state}`: one state's county shapes for the board, from the cached `us-atlas` file.

The shapes never change while the gateway runs, so each state's map is built once (the atlas is
read and decoded on the first request, off the event loop) and served with a long cache life.
Without the atlas file the answer is a 404 saying how to get it; the board then shows the
county table alone.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
from aiohttp import web

from streams.gateway.routes import cached
from streams.geo.atlas import Atlas
from streams.geo.geography import STATE_FIPS

MAP_CACHE = "public, max-age=3600"
MISSING = ("no county map: the us-atlas shapes are not in the cache "
           "(run `make install`, or `.venv/bin/python -m streams.commands.atlas fetch`)")


class CountyMaps:
    def __init__(self, atlas_file: Path | None) -> None:
        self.atlas_file = atlas_file
        self._atlas: Atlas | None = None
        self._bodies: dict[str, bytes] = {}  # state -> the JSON served
        self._lock = asyncio.Lock()

    async def body_for(self, state: str) -> bytes | None:
        """The map of `state` (USPS code) as JSON bytes; None without an atlas or such a state."""
        if state in self._bodies:
            return self._bodies[state]
        fips = STATE_FIPS.get(state)
        if fips is None or self.atlas_file is None or not self.atlas_file.exists():
            return None
        async with self._lock:
            if self._atlas is None:
                self._atlas = await asyncio.to_thread(Atlas.load, self.atlas_file)
            state_map = await asyncio.to_thread(self._atlas.state_map, fips)
        if state_map is None:
            return None
        body = orjson.dumps({"state": state, **state_map.as_json()})
        self._bodies[state] = body
        return body


MAPS: web.AppKey[CountyMaps] = web.AppKey("maps", CountyMaps)


async def get_map(request: web.Request) -> web.Response:
    state = request.match_info["state"].upper()
    body = await request.app[MAPS].body_for(state)
    if body is None:
        return web.json_response({"error": MISSING, "state": state}, status=404,
                                 headers={"Cache-Control": "no-store"})
    response = cached(request, body, "application/json")
    response.headers["Cache-Control"] = MAP_CACHE
    return response


def add_map_routes(app: web.Application, maps: CountyMaps) -> None:
    app[MAPS] = maps
    app.router.add_get("/v1/maps/{state}", get_map)
