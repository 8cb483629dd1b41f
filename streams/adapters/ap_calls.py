"""AP's race calls and race rules -> `race-call/1` records and race-definition fields.

What AP sends (Elections API, "Race Call Status", "AP Vote Tabulation Status"), and what it
becomes:
- **Calls.** A candidate's `winner` is `"X"` (declared winner) or `"R"` (advances to a runoff),
  with `winnerDateTime`; the race's `raceCallStatus` says `Called`, `Runoff`, `Winner Not
  Leading` (still called), `Uncalled` (a call rescinded), `Too Early to Call` or `Too Close to
  Call`. The call is read from the race's `state`-level unit (AP also marks a town's or
  county's own leader `winner` in subunits: that is no race call), or from the race's own
  candidates in an `omitResults` response. Without `raceCallStatus`, winners marked `X` make a
  `called` call and `R` a `runoff`; without either no call is made (and nothing is retracted:
  only an explicit `Uncalled` retracts). `by` is `AP`; `at` is the latest `winnerDateTime` of
  the winners, else the unit's `lastUpdated`; `seq` is `at` in ms (one more than the last when
  that is not higher), so a later AP call replaces an earlier one, and the desk's calls, whose
  `seq` is also a time, interleave with AP's by time. A call is emitted when it changes.
- **Race rules**: `numWinners` -> `seats`, `winThreshold` -> `win_threshold`, `uncontested`,
  `tabulationStatus` -> `tabulation_status` (below; `Vote Certified` also sets `certified`),
  and each candidate's `incumbent` (in streams.adapters.ap).
The recorded fixtures (tests/fixtures/ap) carry `winner` and `incumbent` only; the other
fields are read as AP's documentation describes them and tested on hand-edited copies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from streams import contract
from streams.adapters.base import rfc3339_ms
from streams.contract.calls import CallStatus
from streams.contract.recording import OutRecord

BY_AP = "AP"
CALL_STATUS: dict[str, CallStatus] = {
    "Called": "called", "Winner Not Leading": "called", "Runoff": "runoff", "Uncalled": "retracted",
    "Too Early to Call": "too_early", "Too Close to Call": "too_close"}
TABULATION_STATUS = {"Awaiting Poll Close": "awaiting_votes", "Polls Closed/Waiting First Report": "awaiting_votes",
                     "Active Tabulation": "counting", "Tabulation Paused": "paused",
                     "End of AP Tabulation": "counted", "Gathering Certified Results": "counted",
                     "Vote Certified": "certified"}
WINNER_MARKS: dict[str, CallStatus] = {"X": "called", "R": "runoff"}


def race_rules(race: dict[str, Any]) -> dict[str, Any]:
    """The race-definition fields AP's race carries (only those it sends)."""
    rules: dict[str, Any] = {}
    if isinstance(race.get("numWinners"), int) and not isinstance(race["numWinners"], bool):
        rules["seats"] = max(1, race["numWinners"])
    threshold = _number(race.get("winThreshold"))
    if threshold is not None and 0 < threshold < 100:
        rules["win_threshold"] = threshold
    if isinstance(race.get("uncontested"), bool):
        rules["uncontested"] = race["uncontested"]
    status = TABULATION_STATUS.get(str(race.get("tabulationStatus")))
    if status is not None:
        rules["tabulation_status"] = status
        rules["certified"] = status == "certified"
    return rules


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value)) if value is not None else None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class APCall:
    state: str
    status: CallStatus
    winners: tuple[str, ...]
    at: str  # RFC 3339, AP's


def race_calls(race: dict[str, Any], candidate_id: Callable[[dict[str, Any]], str]) -> list[APCall]:
    """The calls one AP race carries: one per state it has a state-level unit (or candidates) for."""
    status_word = race.get("raceCallStatus")
    units = [ru for ru in race.get("reportingUnits") or () if str(ru.get("level", "")).lower() == "state"]
    if not units and race.get("candidates") and race.get("statePostal"):
        units = [{"statePostal": race["statePostal"], "candidates": race["candidates"],
                  "lastUpdated": race.get("lastUpdated")}]
    calls = [_unit_call(unit, status_word, candidate_id) for unit in units]
    return [c for c in calls if c is not None]


def _unit_call(unit: dict[str, Any], status_word: object, candidate_id: Callable[[dict[str, Any]], str]
               ) -> APCall | None:
    marked = [(c, WINNER_MARKS[c["winner"]]) for c in unit.get("candidates") or ()
              if c.get("winner") in WINNER_MARKS]
    status: CallStatus | None = CALL_STATUS.get(str(status_word)) if status_word is not None else None
    if status is None:
        if not marked:
            return None
        status = "runoff" if any(kind == "runoff" for _, kind in marked) else "called"
    wanted: CallStatus = "runoff" if status == "runoff" else "called"
    winners = tuple(candidate_id(c) for c, kind in marked if kind == wanted) if status in ("called", "runoff") else ()
    times = [c["winnerDateTime"] for c, _ in marked if isinstance(c.get("winnerDateTime"), str)]
    at = max(times, key=lambda t: rfc3339_ms(t, "winnerDateTime")) if times else unit.get("lastUpdated")
    if not isinstance(at, str) or len(winners) < {"called": 1, "runoff": 2}.get(status, 0):
        return None  # a call AP has not finished marking (no time, or too few winners): not yet
    return APCall(str(unit.get("statePostal")), status, winners, at)


@dataclass
class CallTracker:
    """Emits a race's call when it changes, with a `seq` that only rises."""

    _last: dict[str, tuple[CallStatus, tuple[str, ...], int]] = field(default_factory=dict)

    def records(self, election_id: str, race_id: str, mode: str, calls: Iterable[APCall],
                not_before_ms: int) -> Iterator[OutRecord]:
        """`race-call/1` records for the calls that changed; each at least at `not_before_ms` (the
        race's latest record), so a worker reads the race's definition before its call."""
        for call in calls:
            race = contract.race_key(election_id, race_id, call.state)
            key = f"{race}/{mode}"
            at_ms = rfc3339_ms(call.at, "winnerDateTime")
            last = self._last.get(key)
            if last is not None and last[:2] == (call.status, call.winners):
                continue
            seq = max(at_ms, last[2] + 1 if last is not None else 0)
            self._last[key] = (call.status, call.winners, seq)
            value = contract.race_call_value(race, "test" if mode == "test" else "live", call.status, call.winners,
                                             BY_AP, call.at, seq)
            yield OutRecord(max(at_ms, not_before_ms), contract.RACE_CALLS, key, value)
