"""US reference data the alerts and the board read: county names bundled in the package, state zones."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from streams.geo.geography import STATE_ZONES, STATES, county_names


def test_every_minnesota_county_has_a_name_and_no_alaska_code_does() -> None:
    names = county_names()
    assert len([f for f in names if f.startswith("27")]) == 87
    assert (names["27053"], names["22071"], names["51760"]) == ("Hennepin County", "Orleans Parish", "Richmond city")
    assert not [f for f in names if f.startswith("02")]


def test_every_state_has_a_zone_the_tz_database_knows() -> None:
    assert set(STATE_ZONES) == {s.postal for s in STATES}
    assert all(ZoneInfo(zone) for zone in STATE_ZONES.values())
