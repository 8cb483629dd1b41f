"""The wire contract (../shared/DESIGN.md): input messages as typed values, keys, and topic names.

Decoding and validation (`decode_*`) turn raw bytes into these values or raise
`InvalidRecord` with a reason that says what is wrong and where; the JSON Schemas in
`schemas/` describe the same rules and are tested against the same examples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["live", "test"]
MODES: tuple[Mode, ...] = ("live", "test")

MAX_PAYLOAD_BYTES = 1 << 20
MAX_COUNT = 1 << 53

# Contract topic names (without the configured prefix).
RACE_DEFINITIONS = "race-definitions"
EXPECTED_VOTES = "expected-votes"
PRECINCT_RESULTS = "precinct-results"
STATE_RESULTS = "state-results"
COUNTY_RESULTS = "county-results"
RESULTS_ALERTS = "results-alerts"
DEAD_LETTERS = "dead-letters"


@dataclass(frozen=True, slots=True)
class Candidate:
    candidate_id: str
    name: str
    party: str
    short_name: str | None = None

    @property
    def display(self) -> str:
        """The name used in readouts: `short_name`, else the last word of `name`."""
        return self.short_name or self.name.split()[-1]


@dataclass(frozen=True, slots=True)
class PreviousResult:
    election_id: str
    shares: dict[str, float]  # party -> percent


@dataclass(frozen=True, slots=True)
class RaceDefinition:
    election_id: str
    race_id: str
    state: str
    office: str
    candidates: tuple[Candidate, ...]
    precincts_total: int
    polls_close: str  # RFC 3339, as sent
    polls_close_ms: int  # the same instant, ms since the epoch
    certified: bool
    previous: tuple[PreviousResult, ...] = ()
    # Set by the worker from the record's offset in the compacted topic, so a changed
    # definition (say, certified) raises the snapshot version. 0 outside Kafka.
    revision: int = 0

    @property
    def key(self) -> str:
        return race_key(self.election_id, self.race_id, self.state)


@dataclass(frozen=True, slots=True)
class ExpectedVote:
    election_id: str
    race_id: str
    state: str
    expected_votes: int | None
    county_expected: dict[str, int]
    seq: int
    issued_at: str
    issued_ms: int

    @property
    def key(self) -> str:
        return race_key(self.election_id, self.race_id, self.state)


@dataclass(frozen=True, slots=True)
class PrecinctReport:
    election_id: str
    race_id: str
    state: str
    county_fips: str
    precinct_id: str
    seq: int
    reported_at: str
    reported_ms: int
    votes: dict[str, int]
    complete: bool
    mode: Mode = "live"
    precincts_reporting: int | None = None
    precincts_total: int | None = None
    registered_voters: int | None = None

    @property
    def key(self) -> str:
        return race_key(self.election_id, self.race_id, self.state)

    @property
    def reporting(self) -> int:
        """Precincts this unit counts as reporting (the contract's rule)."""
        if self.precincts_reporting is not None:
            return self.precincts_reporting
        return 1 if self.complete else 0


@dataclass(frozen=True, slots=True)
class TallyKey:
    """One tally: a race in a state, live or test."""

    election_id: str
    race_id: str
    state: str
    mode: Mode

    @property
    def race(self) -> str:
        return race_key(self.election_id, self.race_id, self.state)

    @property
    def state_result_key(self) -> str:
        return f"{self.race}/{self.mode}"

    def county_result_key(self, county_fips: str) -> str:
        return f"{self.race}/{county_fips}/{self.mode}"


def race_key(election_id: str, race_id: str, state: str) -> str:
    """The input key of the contract: `{election_id}/{race_id}/{state}`."""
    return f"{election_id}/{race_id}/{state}"


@dataclass(frozen=True, slots=True)
class Alert:
    alert_id: str
    type: str
    severity: Literal["info", "warning", "critical"]
    election_id: str
    race_id: str
    state: str
    mode: Mode
    message: str
    at: str
    details: dict[str, object] = field(default_factory=dict)
    county_fips: str | None = None
    precinct_id: str | None = None

    @property
    def key(self) -> str:
        return race_key(self.election_id, self.race_id, self.state)
