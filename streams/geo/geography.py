"""U.S. states and counties as the simulator, the adapters, the alerts and the board need them.

Figures are real but rounded: county and precinct counts near the 2020-2024 ones (AP counts
Alaska by its 40 state house districts), 2020 presidential turnout and two-party shares (for
default shares and swing), and when the last polls close, in Eastern time on election night.
`late` is the share of a state's vote counted after election night (mail ballots arriving or
processed late); it is why California sits near three quarters counted for days.

Each state's clock is the IANA zone where most of its people live (a state split between two
zones gets one). County names come from `county-names.json` beside this module (README.md here
says where from).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True, slots=True)
class State:
    postal: str
    fips: str
    name: str
    close_et: float  # hour (Eastern) the last polls close on election day; 24.0 = midnight
    counties: int
    precincts: int
    votes_2020: int  # thousands
    dem_2020: float
    rep_2020: float
    late: float  # share of the vote counted after election night


STATES: tuple[State, ...] = (
    State("AL", "01", "Alabama", 20, 67, 1980, 2323, 36.6, 62.0, 0.02),
    State("AK", "02", "Alaska", 25, 40, 441, 360, 42.8, 52.8, 0.30),
    State("AZ", "04", "Arizona", 21, 15, 1489, 3387, 49.4, 49.1, 0.35),
    State("AR", "05", "Arkansas", 20.5, 75, 2600, 1219, 34.8, 62.4, 0.02),
    State("CA", "06", "California", 23, 58, 24000, 17501, 63.5, 34.3, 0.45),
    State("CO", "08", "Colorado", 21, 64, 3200, 3257, 55.4, 41.9, 0.10),
    State("CT", "09", "Connecticut", 20, 8, 700, 1824, 59.3, 39.2, 0.05),
    State("DE", "10", "Delaware", 20, 3, 434, 504, 58.7, 39.8, 0.03),
    State("DC", "11", "District of Columbia", 20, 1, 144, 344, 92.1, 5.4, 0.10),
    State("FL", "12", "Florida", 20, 67, 6000, 11067, 47.9, 51.2, 0.01),
    State("GA", "13", "Georgia", 19, 159, 2700, 4998, 49.5, 49.2, 0.03),
    State("HI", "15", "Hawaii", 24, 5, 250, 574, 63.7, 34.3, 0.05),
    State("ID", "16", "Idaho", 23, 44, 950, 868, 33.1, 63.8, 0.03),
    State("IL", "17", "Illinois", 20, 102, 11000, 6033, 57.5, 40.6, 0.15),
    State("IN", "18", "Indiana", 19, 92, 5000, 3033, 41.0, 57.0, 0.02),
    State("IA", "19", "Iowa", 21, 99, 1700, 1690, 44.9, 53.1, 0.02),
    State("KS", "20", "Kansas", 21, 105, 3500, 1373, 41.6, 56.2, 0.04),
    State("KY", "21", "Kentucky", 19, 120, 3700, 2136, 36.2, 62.1, 0.02),
    State("LA", "22", "Louisiana", 21, 64, 3900, 2148, 39.9, 58.5, 0.01),
    State("ME", "23", "Maine", 20, 16, 600, 819, 53.1, 44.0, 0.05),
    State("MD", "24", "Maryland", 20, 24, 2000, 3037, 65.4, 32.2, 0.25),
    State("MA", "25", "Massachusetts", 20, 14, 2170, 3632, 65.6, 32.1, 0.05),
    State("MI", "26", "Michigan", 21, 83, 5100, 5539, 50.6, 47.8, 0.05),
    State("MN", "27", "Minnesota", 21, 87, 4100, 3278, 52.4, 45.3, 0.03),
    State("MS", "28", "Mississippi", 20, 82, 1850, 1314, 41.1, 57.6, 0.05),
    State("MO", "29", "Missouri", 20, 115, 3300, 3026, 41.4, 56.8, 0.02),
    State("MT", "30", "Montana", 22, 56, 680, 604, 40.5, 56.9, 0.03),
    State("NE", "31", "Nebraska", 21, 93, 1350, 952, 39.2, 58.2, 0.03),
    State("NV", "32", "Nevada", 22, 17, 1900, 1405, 50.1, 47.7, 0.30),
    State("NH", "33", "New Hampshire", 20, 10, 320, 806, 52.7, 45.4, 0.02),
    State("NJ", "34", "New Jersey", 20, 21, 6400, 4549, 57.3, 41.4, 0.15),
    State("NM", "35", "New Mexico", 21, 33, 1500, 924, 54.3, 43.5, 0.03),
    State("NY", "36", "New York", 21, 62, 15500, 8594, 60.9, 37.7, 0.15),
    State("NC", "37", "North Carolina", 19.5, 100, 2700, 5525, 48.6, 49.9, 0.03),
    State("ND", "38", "North Dakota", 21, 53, 420, 362, 31.8, 65.1, 0.02),
    State("OH", "39", "Ohio", 19.5, 88, 8900, 5922, 45.2, 53.3, 0.04),
    State("OK", "40", "Oklahoma", 20, 77, 1950, 1560, 32.3, 65.4, 0.01),
    State("OR", "41", "Oregon", 23, 36, 1300, 2375, 56.5, 40.4, 0.25),
    State("PA", "42", "Pennsylvania", 20, 67, 9150, 6915, 50.0, 48.8, 0.10),
    State("RI", "44", "Rhode Island", 20, 5, 420, 518, 59.4, 38.6, 0.05),
    State("SC", "45", "South Carolina", 19, 46, 2260, 2513, 43.4, 55.1, 0.02),
    State("SD", "46", "South Dakota", 21, 66, 690, 423, 35.6, 61.8, 0.02),
    State("TN", "47", "Tennessee", 20, 95, 2000, 3053, 37.5, 60.7, 0.01),
    State("TX", "48", "Texas", 21, 254, 9000, 11315, 46.5, 52.1, 0.03),
    State("UT", "49", "Utah", 22, 29, 2300, 1488, 37.6, 58.1, 0.25),
    State("VT", "50", "Vermont", 19, 14, 280, 367, 66.1, 30.7, 0.03),
    State("VA", "51", "Virginia", 19, 133, 2500, 4460, 54.1, 44.0, 0.08),
    State("WA", "53", "Washington", 23, 39, 7400, 4087, 58.0, 38.8, 0.35),
    State("WV", "54", "West Virginia", 19.5, 55, 1750, 795, 29.7, 68.6, 0.01),
    State("WI", "55", "Wisconsin", 21, 72, 3600, 3298, 49.4, 48.8, 0.02),
    State("WY", "56", "Wyoming", 21, 23, 480, 277, 26.6, 69.9, 0.02),
)

STATE_BY_POSTAL = {s.postal: s for s in STATES}
STATE_FIPS = {s.postal: s.fips for s in STATES}

EASTERN, CENTRAL, MOUNTAIN, PACIFIC = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"
STATE_ZONES: dict[str, str] = {
    "AL": CENTRAL, "AK": "America/Anchorage", "AZ": "America/Phoenix", "AR": CENTRAL, "CA": PACIFIC,
    "CO": MOUNTAIN, "CT": EASTERN, "DE": EASTERN, "DC": EASTERN, "FL": EASTERN, "GA": EASTERN,
    "HI": "Pacific/Honolulu", "ID": "America/Boise", "IL": CENTRAL, "IN": "America/Indiana/Indianapolis",
    "IA": CENTRAL, "KS": CENTRAL, "KY": EASTERN, "LA": CENTRAL, "ME": EASTERN, "MD": EASTERN, "MA": EASTERN,
    "MI": "America/Detroit", "MN": CENTRAL, "MS": CENTRAL, "MO": CENTRAL, "MT": MOUNTAIN, "NE": CENTRAL,
    "NV": PACIFIC, "NH": EASTERN, "NJ": EASTERN, "NM": MOUNTAIN, "NY": EASTERN, "NC": EASTERN, "ND": CENTRAL,
    "OH": EASTERN, "OK": CENTRAL, "OR": PACIFIC, "PA": EASTERN, "RI": EASTERN, "SC": EASTERN, "SD": CENTRAL,
    "TN": CENTRAL, "TX": CENTRAL, "UT": MOUNTAIN, "VT": EASTERN, "VA": EASTERN, "WA": PACIFIC, "WV": EASTERN,
    "WI": CENTRAL, "WY": MOUNTAIN,
}


@cache
def county_names() -> dict[str, str]:
    """County FIPS -> name ("Itasca County", "Orleans Parish"), every state but Alaska.

    Read once, on first use, from the package itself (`importlib.resources`), so an installed
    wheel finds it as well as a checkout does.
    """
    names: dict[str, str] = json.loads((resources.files("streams.geo") / "county-names.json").read_text("utf-8"))
    return names


def county_fips_by_order(state: str, county_names: list[str]) -> dict[str, str]:
    """County name -> FIPS by the Census convention: odd codes in alphabetical order.

    True for most states' original counties (Minnesota, Arkansas, Delaware...), not for
    counties created or renamed later (Virginia's cities, Alaska): pass a real map for those.
    """
    names = sorted(set(county_names), key=str.casefold)
    return {name: f"{STATE_FIPS[state]}{2 * i + 1:03d}" for i, name in enumerate(names)}
