"""`baseline/1`: a previous election's results per reporting unit, for the model of the vote out.

A desk input on the compacted topic `baselines`, keyed `{election_id}/{race_id}/{state}` (the
race being counted now, like `race-definitions`), one record carrying every unit of the race
in that state. One record per race and state, not one per unit, because the model needs the
whole set at once: the baseline's units are the universe it counts as outstanding until they
report, and compaction then keeps exactly the latest whole baseline (per-unit keys would leave
a unit dropped from a corrected baseline behind until someone sent its tombstone). A higher
`seq` replaces the whole baseline, as for `expected-vote/1`.

Units are rows, not objects: `parties` names the columns once and `units` maps a unit id to
`[total_votes, votes of parties[0], votes of parties[1], ...]`. That keeps a precinct-level
baseline of the biggest state (California, ~24,000 precincts) under the contract's 1 MiB.
`total_votes` includes every party's votes and the rest (minor parties, write-ins), so the
party columns may add up to less, never to more.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from streams import contract
from streams.contract.recording import OutRecord
from streams.contract.validation import (
    COUNT,
    MAX_COUNT,
    MAX_ID_CHARS,
    MAX_TEXT_CHARS,
    SEQ,
    check_entries,
    decode_object,
    expect_schema,
    missing,
    shown,
    take_id,
    take_list,
    take_string,
    take_time,
    too_long,
    wrong_type,
)
from streams.errors import InvalidRecord

T = TypeVar("T")
BASELINE_SCHEMA = "baseline/1"
BASELINES = contract.BASELINES  # the topic (compacted), without the configured prefix
# Units in one baseline: every precinct of the biggest state, with room to spare; the 1 MiB
# record limit binds first (~30,000 rows of a few parties).
MAX_UNITS = 50_000

# Feeds and files name the same parties differently (Minnesota's DFL is the Democratic party).
# The model compares a candidate's party with the baseline's through `party_code`.
PARTY_ALIASES = {
    "D": "DEM", "DEMOCRAT": "DEM", "DEMOCRATIC": "DEM", "DFL": "DEM",
    "R": "REP", "GOP": "REP", "REPUBLICAN": "REP",
    "L": "LIB", "LIBERTARIAN": "LIB", "G": "GRN", "GRE": "GRN", "GREEN": "GRN",
}


def party_code(party: str) -> str:
    """A party's canonical code: `DFL`, `D`, `Democratic` -> `DEM`; unknown names upper-cased."""
    code = party.strip().upper()
    return PARTY_ALIASES.get(code, code)


@dataclass(frozen=True, slots=True)
class UnitBaseline:
    total_votes: int
    party_votes: dict[str, int]  # canonical party code -> votes
    registered_voters: int | None = None
    county: str | None = None  # the unit's county FIPS when the unit is smaller (a precinct)

    def share(self, party: str) -> float:
        """The party's share of the unit's votes (0 to 1; 0 when the unit cast none)."""
        return self.party_votes.get(party, 0) / self.total_votes if self.total_votes else 0.0


@dataclass(frozen=True, slots=True)
class Baseline:
    election_id: str  # the election being counted now
    race_id: str
    state: str
    baseline_election_id: str  # the election the figures are from
    units: dict[str, UnitBaseline]
    seq: int
    issued_at: str
    source: str = ""

    @property
    def key(self) -> str:
        return contract.race_key(self.election_id, self.race_id, self.state)

    def to_message(self) -> dict[str, Any]:
        parties = sorted({p for unit in self.units.values() for p in unit.party_votes})
        message: dict[str, Any] = {
            "schema": BASELINE_SCHEMA, "election_id": self.election_id, "race_id": self.race_id,
            "state": self.state, "baseline_election_id": self.baseline_election_id, "source": self.source,
            "seq": self.seq, "issued_at": self.issued_at, "parties": parties,
            "units": {uid: [u.total_votes, *(u.party_votes.get(p, 0) for p in parties)]
                      for uid, u in sorted(self.units.items())}}
        registered = {uid: u.registered_voters for uid, u in sorted(self.units.items())
                      if u.registered_voters is not None}
        if registered:
            message["registered_voters"] = registered
        counties = {uid: u.county for uid, u in sorted(self.units.items()) if u.county is not None}
        if counties:
            message["unit_counties"] = counties
        return message

    def to_record(self) -> OutRecord:
        """The record for the `baselines` topic (or a recording of it), stamped when issued."""
        return OutRecord(contract.parse_time_ms(self.issued_at, "issued_at"), BASELINES, self.key, self.to_message())


def decode_baseline(raw: bytes | None) -> Baseline:
    return parse_baseline(decode_object(raw))


def parse_baseline(obj: Mapping[str, Any]) -> Baseline:
    """A `baseline/1` message, or `InvalidRecord` naming the field and the value."""
    expect_schema(obj, BASELINE_SCHEMA)
    issued_at, _ = take_time(obj, "issued_at")
    ids = (take_id(obj, "election_id"), take_id(obj, "race_id"), take_id(obj, "state"))
    baseline_election_id = take_id(obj, "baseline_election_id")
    seq = SEQ.take(obj, "seq")
    source = take_string(obj, "source") if obj.get("source") is not None else ""
    parties = _parties(obj)
    registered = _unit_map(obj, "registered_voters", "voters", lambda m, uid: COUNT.take(m, uid, "registered_voters."))
    counties = _unit_map(obj, "unit_counties", "county FIPS", lambda m, uid: take_id(m, uid, "unit_counties."))
    units = {unit_id: _unit(unit_id, row, parties, registered.get(unit_id), counties.get(unit_id))
             for unit_id, row in _rows(obj).items()}
    return Baseline(*ids, baseline_election_id, units, seq, issued_at, source)


def _parties(obj: Mapping[str, Any]) -> list[str]:
    parties = take_list(obj, "parties")
    check_entries("parties", parties)
    for i, party in enumerate(parties):
        if type(party) is not str or not party:
            raise wrong_type(f"parties[{i}]", party, "a non-empty string (a party code)")
        if len(party) > MAX_TEXT_CHARS:
            raise too_long(f"parties[{i}]", party, MAX_TEXT_CHARS)
    if len(set(parties)) < len(parties):
        raise InvalidRecord(f"parties names a party twice ({shown(parties)})", "duplicate_id")
    return parties


def _rows(obj: Mapping[str, Any]) -> dict[str, Any]:
    units = obj.get("units")
    if type(units) is not dict:
        raise missing(obj, "units") or wrong_type("units", units, "an object of {unit_id: [total, votes...]}")
    if not units:
        raise InvalidRecord("units is empty, a baseline carries at least one unit", "empty_baseline")
    check_entries("units", units, MAX_UNITS)
    for unit_id in units:
        _check_unit_id(unit_id, "units")
    return units


def _check_unit_id(unit_id: str, field: str) -> None:
    if not unit_id:
        raise InvalidRecord(f"{field} has an empty unit id", "empty_id")
    if len(unit_id) > MAX_ID_CHARS:
        raise too_long(f"a unit id in {field}", unit_id, MAX_ID_CHARS)


def _unit(unit_id: str, row: object, parties: list[str], registered: int | None, county: str | None) -> UnitBaseline:
    field = f"units.{unit_id}"
    if type(row) is not list:
        raise wrong_type(field, row, "a list [total_votes, votes of each party]")
    if len(row) != len(parties) + 1:
        raise InvalidRecord(f"{field} has {len(row)} numbers, want {len(parties) + 1}: the total, then one "
                            f"per party of `parties`", "bad_unit")
    counts = [_count(n, f"{field}[{i}]") for i, n in enumerate(row)]
    if sum(counts[1:]) > counts[0]:
        raise InvalidRecord(f"{field}: the parties' votes ({sum(counts[1:])}) exceed the total ({counts[0]})",
                            "votes_exceed_total")
    party_votes: dict[str, int] = {}
    for party, votes in zip(parties, counts[1:], strict=True):  # `DFL` and `DEM` columns are one party
        code = party_code(party)
        party_votes[code] = party_votes.get(code, 0) + votes
    return UnitBaseline(counts[0], party_votes, registered, county)


def _count(value: object, field: str) -> int:
    if type(value) is int and 0 <= value <= MAX_COUNT:
        return value
    raise COUNT.error(field, value)


def _unit_map(obj: Mapping[str, Any], name: str, what: str, take: Callable[[dict[str, Any], str], T]) -> dict[str, T]:
    """An optional {unit_id: value} field (`registered_voters`, `unit_counties`)."""
    mapping = obj.get(name)
    if mapping is None:  # optional; null means the same as absent
        return {}
    if type(mapping) is not dict:
        raise wrong_type(name, mapping, f"an object of {{unit_id: {what}}}")
    check_entries(name, mapping, MAX_UNITS)
    for unit_id in mapping:
        _check_unit_id(unit_id, name)
    return {unit_id: take(mapping, unit_id) for unit_id in mapping}
