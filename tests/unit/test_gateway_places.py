"""State names and time zones for the board and the embeds: the race's own clock, never the reader's."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer

from streams.gateway.live import LiveResults
from streams.gateway.places import as_of_text, place_of
from streams.gateway.server import build_app
from streams.geo.geography import STATES


def test_every_state_has_a_name_and_a_real_zone() -> None:
    for state in STATES:
        place = place_of(state.postal)
        assert place.name == state.name
        assert ZoneInfo(place.time_zone)  # a zone the tz database knows
    assert place_of("MN").name == "Minnesota"


@pytest.mark.parametrize(("time", "state", "text"), [
    ("2024-11-06T03:40:00Z", "MN", "Nov 5, 2024, 9:40 PM CST"),  # the evening before, in Minnesota
    ("2024-07-01T17:05:00+00:00", "MN", "Jul 1, 2024, 12:05 PM CDT"),  # summer time
    ("2024-11-06T03:40:00Z", "AZ", "Nov 5, 2024, 8:40 PM MST"),  # Arizona keeps standard time
    ("2024-11-06T05:00:00Z", "NY", "Nov 6, 2024, 12:00 AM EST"),  # midnight is 12 AM
    ("2024-11-06T03:40:00Z", "GU", "Nov 6, 2024, 3:40 AM UTC"),  # no zone known: UTC, labelled
])
def test_as_of_is_in_the_races_own_zone_with_date_and_zone(time: str, state: str, text: str) -> None:
    assert as_of_text(time, state) == text


@pytest.mark.parametrize("time", ["", "yesterday", "2024-11-06T03:40:00", None, 17])
def test_an_as_of_that_is_not_an_rfc3339_time_prints_nothing(time: object) -> None:
    assert as_of_text(time, "MN") == ""


def test_unknown_state_is_named_by_its_code_in_utc() -> None:
    place = place_of("GU")
    assert (place.name, place.time_zone) == ("GU", "UTC")


def test_the_board_gets_the_table_at_v1_states() -> None:
    async def main() -> None:
        async with TestClient(TestServer(build_app(LiveResults()))) as client:
            resp = await client.get("/v1/states")
            assert resp.status == 200
            assert resp.headers["Cache-Control"] == "public, max-age=3600"
            states = (await resp.json())["states"]
            assert states["MN"] == {"name": "Minnesota", "time_zone": "America/Chicago"}
            assert len(states) == len(STATES)
            again = await client.get("/v1/states", headers={"If-None-Match": resp.headers["ETag"]})
            assert again.status == 304

    asyncio.run(asyncio.wait_for(main(), 20))
