"""The rest of the ballot, for the `full` presets: U.S. House, governors, state legislatures,
statewide ballot measures and county contests.

A national night's reports are mostly down-ballot: every precinct reports every contest on its
ballot, and a real ballot holds a dozen or more. The seat counts are real (House seats from the
2020 apportionment, the 2024 governors, the size of each legislative chamber); who runs is not:
district and local candidates are "Democratic candidate" and "Republican candidate", measures
are Yes/No, and the final shares are drawn per contest from a generator seeded by the contest
(the same race gets the same shares in every night). Simplifications, on purpose: a district is
a contiguous run of the state's precincts (counties in FIPS order), so a precinct is in exactly
one House, state senate and state house district; every seat of a chamber is on the ballot
when that chamber is; statewide measures and county contests are a fixed number per state and
county, near 2024's average.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from streams.geo.geography import State
from streams.simulation.ballot import Candidate, Race, default_shares, normalised

# U.S. House seats by the 2020 apportionment (DC elects a non-voting delegate: 1).
HOUSE_SEATS = {
    "AL": 7, "AK": 1, "AZ": 9, "AR": 4, "CA": 52, "CO": 8, "CT": 5, "DE": 1, "DC": 1, "FL": 28, "GA": 14,
    "HI": 2, "ID": 2, "IL": 17, "IN": 9, "IA": 4, "KS": 4, "KY": 6, "LA": 6, "ME": 2, "MD": 8, "MA": 9,
    "MI": 13, "MN": 8, "MS": 4, "MO": 8, "MT": 2, "NE": 3, "NV": 4, "NH": 2, "NJ": 12, "NM": 3, "NY": 26,
    "NC": 14, "ND": 1, "OH": 15, "OK": 5, "OR": 6, "PA": 17, "RI": 2, "SC": 7, "SD": 1, "TN": 9, "TX": 38,
    "UT": 4, "VT": 1, "VA": 11, "WA": 10, "WV": 2, "WI": 8, "WY": 1,
}

# The eleven 2024 governor's races: the Democrat, then the Republican.
GOVERNORS_2024: dict[str, tuple[str, str]] = {
    "DE": ("Matt Meyer", "Mike Ramone"), "IN": ("Jennifer McCormick", "Mike Braun"),
    "MO": ("Crystal Quade", "Mike Kehoe"), "MT": ("Ryan Busse", "Greg Gianforte"),
    "NH": ("Joyce Craig", "Kelly Ayotte"), "NC": ("Josh Stein", "Mark Robinson"),
    "ND": ("Merrill Piepkorn", "Kelly Armstrong"), "UT": ("Brian King", "Spencer Cox"),
    "VT": ("Esther Charlestin", "Phil Scott"), "WA": ("Bob Ferguson", "Dave Reichert"),
    "WV": ("Steve Williams", "Patrick Morrisey"),
}

# (state senate seats, state house seats); Nebraska's legislature has one chamber, DC none.
CHAMBERS = {
    "AL": (35, 105), "AK": (20, 40), "AZ": (30, 60), "AR": (35, 100), "CA": (40, 80), "CO": (35, 65),
    "CT": (36, 151), "DE": (21, 41), "DC": (0, 0), "FL": (40, 120), "GA": (56, 180), "HI": (25, 51),
    "ID": (35, 70), "IL": (59, 118), "IN": (50, 100), "IA": (50, 100), "KS": (40, 125), "KY": (38, 100),
    "LA": (39, 105), "ME": (35, 151), "MD": (47, 141), "MA": (40, 160), "MI": (38, 110), "MN": (67, 134),
    "MS": (52, 122), "MO": (34, 163), "MT": (50, 100), "NE": (49, 0), "NV": (21, 42), "NH": (24, 400),
    "NJ": (40, 80), "NM": (42, 70), "NY": (63, 150), "NC": (50, 120), "ND": (47, 94), "OH": (33, 99),
    "OK": (48, 101), "OR": (30, 60), "PA": (50, 203), "RI": (38, 75), "SC": (46, 124), "SD": (35, 70),
    "TN": (33, 99), "TX": (31, 150), "UT": (29, 75), "VT": (30, 150), "VA": (40, 100), "WA": (49, 98),
    "WV": (34, 100), "WI": (33, 99), "WY": (31, 62),
}
# Legislatures elected in odd years or for four-year terms with no 2024 election.
NO_LEGISLATIVE_ELECTION_2024 = frozenset({"AL", "LA", "MD", "MS", "NJ", "VA", "DC"})

STATEWIDE_MEASURES = 3  # 2024 had about 150 statewide measures in 41 states
# Countywide contests on every ballot: offices elected countywide, a judge's retention, a measure.
COUNTY_CONTESTS = (("commission", "County Commission"), ("sheriff", "County Sheriff"),
                   ("clerk", "County Clerk"), ("treasurer", "County Treasurer"), ("assessor", "County Assessor"),
                   ("district-attorney", "District Attorney"), ("school-board", "School Board"),
                   ("judge", "Judicial Retention"), ("measure", "County Measure"),
                   ("school-measure", "School District Measure"))
YES_NO_CONTESTS = frozenset({"judge", "measure", "school-measure"})

DEMOCRAT = Candidate("dem", "Democratic candidate", "DEM", "Democrat")
REPUBLICAN = Candidate("rep", "Republican candidate", "REP", "Republican")
YES, NO = Candidate("yes", "Yes", "YES", "Yes"), Candidate("no", "No", "NO", "No")


def contest_rng(state: State, race_id: str) -> random.Random:
    return random.Random(f"{state.postal}/{race_id}")  # noqa: S311 - a simulation, reproducible


def partisan(state: State, race_id: str, office: str, districts: int = 1, district: int = 0,
             county_fips: str | None = None) -> Race:
    """Democrat against Republican: the state's presidential lean, moved by the district's own."""
    dem, rep, *_ = default_shares(state, "president")
    swing = contest_rng(state, race_id).gauss(0, 10)
    shares = normalised((max(5.0, dem + swing), max(5.0, rep - swing)))
    return Race(race_id, office, state, (DEMOCRAT, REPUBLICAN), shares, districts, district, county_fips)


def yes_no(state: State, race_id: str, office: str, county_fips: str | None = None) -> Race:
    yes = min(85.0, max(15.0, contest_rng(state, race_id).gauss(54, 12)))
    return Race(race_id, office, state, (YES, NO), (yes, 100 - yes), county_fips=county_fips)


def districts(state: State, prefix: str, office: str, seats: int, precincts: int) -> Iterator[Race]:
    """One race per district; never more districts than precincts (a scaled-down preset)."""
    count = min(seats, precincts)
    for k in range(count):
        name = "At Large" if count == 1 else f"District {k + 1}"
        yield partisan(state, f"{prefix}-{k + 1:03d}", f"{office}, {name}", count, k)


def down_ballot_races(state: State, counties: list[str], precincts: int) -> list[Race]:
    """Every contest below president and senate on the state's ballot, in a fixed order."""
    races: list[Race] = []
    if state.postal in GOVERNORS_2024:
        dem, rep = GOVERNORS_2024[state.postal]
        people = tuple(Candidate(n.split()[-1].lower(), n, p, n.split()[-1])
                       for n, p in ((dem, "DEM"), (rep, "REP")))
        race = partisan(state, "governor", "Governor")
        races.append(Race("governor", "Governor", state, people, race.shares))
    races += districts(state, "house", "U.S. House", HOUSE_SEATS[state.postal], precincts)
    if state.postal not in NO_LEGISLATIVE_ELECTION_2024:
        senate, house = CHAMBERS[state.postal]
        races += districts(state, "state-senate", "State Senate", senate, precincts)
        races += districts(state, "state-house", "State House", house, precincts)
    races += [yes_no(state, f"measure-{k + 1}", f"Statewide Measure {k + 1}") for k in range(STATEWIDE_MEASURES)]
    for fips in counties:
        for contest, office in COUNTY_CONTESTS:
            race_id, title = f"{contest}-{fips}", f"{office} ({fips})"
            if contest in YES_NO_CONTESTS:
                races.append(yes_no(state, race_id, title, fips))
            else:
                races.append(partisan(state, race_id, title, county_fips=fips))
    return races
