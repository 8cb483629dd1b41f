"""What is on the simulated ballot: races, candidates, default and targeted final shares.

Candidate names are real (2024); every count the simulator writes is invented, and every race
definition says so with `"simulated": true`.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.errors import ConfigError
from streams.geo.geography import STATE_BY_POSTAL, State


@dataclass(frozen=True, slots=True)
class Candidate:
    candidate_id: str
    name: str
    party: str
    short_name: str


PRESIDENT = (
    Candidate("harris", "Kamala Harris", "DEM", "Harris"),
    Candidate("trump", "Donald Trump", "REP", "Trump"),
    Candidate("oliver", "Chase Oliver", "LIB", "Oliver"),
    Candidate("stein", "Jill Stein", "GRN", "Stein"),
)

# 2024 Senate races (regular seats): the two leading candidates, the non-Republican first.
SENATE_2024: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "AZ": (("Ruben Gallego", "DEM"), ("Kari Lake", "REP")),
    "CA": (("Adam Schiff", "DEM"), ("Steve Garvey", "REP")),
    "CT": (("Chris Murphy", "DEM"), ("Matthew Corey", "REP")),
    "DE": (("Lisa Blunt Rochester", "DEM"), ("Eric Hansen", "REP")),
    "FL": (("Debbie Mucarsel-Powell", "DEM"), ("Rick Scott", "REP")),
    "HI": (("Mazie Hirono", "DEM"), ("Bob McDermott", "REP")),
    "IN": (("Valerie McCray", "DEM"), ("Jim Banks", "REP")),
    "MA": (("Elizabeth Warren", "DEM"), ("John Deaton", "REP")),
    "MD": (("Angela Alsobrooks", "DEM"), ("Larry Hogan", "REP")),
    "ME": (("Angus King", "IND"), ("Demi Kouzounas", "REP")),
    "MI": (("Elissa Slotkin", "DEM"), ("Mike Rogers", "REP")),
    "MN": (("Amy Klobuchar", "DFL"), ("Royce White", "REP")),
    "MO": (("Lucas Kunce", "DEM"), ("Josh Hawley", "REP")),
    "MS": (("Ty Pinkins", "DEM"), ("Roger Wicker", "REP")),
    "MT": (("Jon Tester", "DEM"), ("Tim Sheehy", "REP")),
    "ND": (("Katrina Christiansen", "DEM"), ("Kevin Cramer", "REP")),
    "NE": (("Dan Osborn", "IND"), ("Deb Fischer", "REP")),
    "NJ": (("Andy Kim", "DEM"), ("Curtis Bashaw", "REP")),
    "NM": (("Martin Heinrich", "DEM"), ("Nella Domenici", "REP")),
    "NV": (("Jacky Rosen", "DEM"), ("Sam Brown", "REP")),
    "NY": (("Kirsten Gillibrand", "DEM"), ("Mike Sapraicone", "REP")),
    "OH": (("Sherrod Brown", "DEM"), ("Bernie Moreno", "REP")),
    "PA": (("Bob Casey", "DEM"), ("Dave McCormick", "REP")),
    "RI": (("Sheldon Whitehouse", "DEM"), ("Patricia Morgan", "REP")),
    "TN": (("Gloria Johnson", "DEM"), ("Marsha Blackburn", "REP")),
    "TX": (("Colin Allred", "DEM"), ("Ted Cruz", "REP")),
    "UT": (("Caroline Gleich", "DEM"), ("John Curtis", "REP")),
    "VA": (("Tim Kaine", "DEM"), ("Hung Cao", "REP")),
    "VT": (("Bernie Sanders", "IND"), ("Gerald Malloy", "REP")),
    "WA": (("Maria Cantwell", "DEM"), ("Raul Garcia", "REP")),
    "WI": (("Tammy Baldwin", "DEM"), ("Eric Hovde", "REP")),
    "WV": (("Glenn Elliott", "DEM"), ("Jim Justice", "REP")),
    "WY": (("Scott Morse", "DEM"), ("John Barrasso", "REP")),
}


@dataclass(frozen=True, slots=True)
class Race:
    race_id: str
    office: str
    state: State
    candidates: tuple[Candidate, ...]
    shares: tuple[float, ...]  # final percent per candidate, same order; sums to 100
    # Where it is on the ballot (streams.simulation.downballot): the k-th of n contiguous runs
    # of the state's precincts (a district), or one county's precincts; by default all of them.
    districts: int = 1
    district: int = 0
    county_fips: str | None = None
    seats: int = 1  # vote for N (streams.simulation.calls adds such contests)
    win_threshold: float | None = None  # percent to win outright; None: a plurality wins


def senate_candidates(state: str) -> tuple[Candidate, ...]:
    def candidate(name: str, party: str) -> Candidate:
        last = name.split()[-1]
        return Candidate(last.lower().replace("-", ""), name, party, last)
    left, right = SENATE_2024[state]
    return candidate(*left), candidate(*right)


def default_shares(state: State, race_id: str) -> tuple[float, ...]:
    """2020 shares moved ~1.5 points right (as 2024 went); senators run a little ahead."""
    dem, rep = state.dem_2020 - 1.5, state.rep_2020 + 1.5
    if race_id == "senate":
        return normalised((dem + 1.0, rep - 1.0 + 1.5))
    return normalised((dem, rep, 0.6, 0.5))


def normalised(weights: tuple[float, ...]) -> tuple[float, ...]:
    total = sum(weights)
    return tuple(100 * w / total for w in weights)


def targeted(candidates: tuple[Candidate, ...], default: tuple[float, ...], spec: dict[str, float],
             where: str) -> tuple[float, ...]:
    """Shares with `spec` (short name or id -> percent) fixed; the rest keep their proportions."""
    by_name = {c.short_name.lower(): i for i, c in enumerate(candidates)}
    by_name.update({c.candidate_id: i for i, c in enumerate(candidates)})
    fixed = {}
    for name, pct in spec.items():
        if name.lower() not in by_name:
            raise ConfigError(f"--target {where}: no candidate {name!r} (have {[c.short_name for c in candidates]})")
        fixed[by_name[name.lower()]] = pct
    rest_target = 100 - sum(fixed.values())
    rest_default = sum(s for i, s in enumerate(default) if i not in fixed)
    if rest_target < 0 or (rest_target > 0 and rest_default == 0):
        raise ConfigError(f"--target {where}: shares must add up to at most 100")
    return tuple(fixed.get(i, s * rest_target / rest_default if rest_default else 0.0)
                 for i, s in enumerate(default))


def parse_targets(specs: list[str]) -> dict[tuple[str, str], dict[str, float]]:
    """`CA=Harris:58.5,Trump:38.3` or `AZ/senate=Gallego:50` -> {(state, race): {name: pct}}."""
    out: dict[tuple[str, str], dict[str, float]] = {}
    for spec in specs:
        where, sep, body = spec.partition("=")
        state, _, race_id = where.partition("/")
        if not sep or state.upper() not in STATE_BY_POSTAL:
            raise ConfigError(f"--target {spec!r}: expected STATE[/RACE]=Name:pct,... (e.g. CA=Harris:58.5,Trump:38.3)")
        try:
            shares = {name.strip(): float(pct) for name, pct in (part.split(":") for part in body.split(","))}
        except ValueError:
            raise ConfigError(f"--target {spec!r}: each share is Name:percent") from None
        out[(state.upper(), race_id or "president")] = shares
    return out


def races_for(state: State, senate: bool, targets: dict[tuple[str, str], dict[str, float]]) -> list[Race]:
    ballot: list[tuple[str, str, tuple[Candidate, ...]]] = [("president", "U.S. President", PRESIDENT)]
    if senate and state.postal in SENATE_2024:
        ballot.append(("senate", "U.S. Senate", senate_candidates(state.postal)))
    races = []
    for race_id, office, candidates in ballot:
        shares = default_shares(state, race_id)
        spec = targets.get((state.postal, race_id))
        if spec:
            shares = targeted(candidates, shares, spec, f"{state.postal}/{race_id}")
        races.append(Race(race_id, office, state, candidates, shares))
    return races
