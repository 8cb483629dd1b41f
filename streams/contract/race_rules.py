"""How a race is won, as a race definition may say it (all optional, additive to `race-definition/1`).

Per race: `seats` (vote for N, default 1), `win_threshold` (the percent a candidate must pass
to win outright, e.g. 50 in Georgia's general elections; null, the default, when a plurality
wins), `uncontested` (default false) and `tabulation_status` (the feed's word on the count:
one of `TABULATION_STATUSES`, or null when the feed says nothing and the worker derives it).
Per candidate: `incumbent` (default false). Absent and null mean the default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from streams.contract.validation import MAX_ENTRIES, IntRule, shown, wrong_type
from streams.errors import InvalidRecord

# The count's progress, from no vote yet to certified. A feed's own words map onto these
# (streams.adapters.ap_calls); without them a snapshot derives one (streams.counting.calls).
TABULATION_STATUSES = ("awaiting_votes", "counting", "paused", "counted", "certified")
SEATS = IntRule("seats", 1, MAX_ENTRIES, "bad_count")


class RaceRules(NamedTuple):
    seats: int = 1
    win_threshold: float | None = None
    uncontested: bool = False
    tabulation_status: str | None = None


DEFAULT_RULES = RaceRules()  # one seat, a plurality wins, contested, status derived


def take_race_rules(obj: Mapping[str, Any]) -> RaceRules:
    seats = 1 if obj.get("seats") is None else SEATS.take(obj, "seats")
    return RaceRules(seats, _threshold(obj.get("win_threshold")), take_optional_flag(obj, "uncontested"),
                     _tabulation_status(obj.get("tabulation_status")))


def take_optional_flag(obj: Mapping[str, Any], name: str, label: str = "") -> bool:
    """A boolean that may be absent or null (false)."""
    value = obj.get(name)
    if value is None or type(value) is bool:
        return bool(value)
    raise wrong_type(label + name, value, "true, false or null")


def _threshold(value: object) -> float | None:
    if value is None:
        return None
    if type(value) is not int and type(value) is not float:
        raise wrong_type("win_threshold", value, "a percent (a number) or null")
    if not 0 < value < 100:
        raise InvalidRecord(f"win_threshold is {shown(value)}, a threshold must be above 0 and below 100",
                            "bad_percent")
    return float(value)


def _tabulation_status(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and value in TABULATION_STATUSES:
        return value
    raise InvalidRecord(f"tabulation_status is {shown(value)}, want one of {', '.join(TABULATION_STATUSES)} "
                        "or null", "bad_status")
