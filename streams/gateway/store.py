"""The gateway's read model: the latest snapshot per key and recent alerts, nothing else.

Pure and synchronous (no Kafka, no HTTP), so every rule that decides what the public sees is
tested directly:

- a snapshot replaces the held one only when its `version` is higher. Compacted topics are
  read from the beginning after every restart, and a worker re-sends a snapshot with the same
  version after its own restart, so equal or older versions are normal and ignored;
- test-mode messages (design rule 6) are dropped at the door unless the gateway was started
  to show test data, so no later code path can leak them;
- alerts are deduplicated by their deterministic `alert_id` (a re-processed input yields the
  same id) and numbered with a gateway-local `seq` for `GET /v1/alerts?since=`.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Kind = Literal["state", "county", "alert"]
Message = dict[str, Any]

RACE_FIELDS = ("election_id", "race_id", "state")
MAX_ALERTS = 2000


@dataclass(frozen=True, order=True)
class RaceKey:
    election_id: str
    race_id: str
    state: str
    mode: str = "live"

    def __str__(self) -> str:
        return f"{self.election_id}/{self.race_id}/{self.state}/{self.mode}"


def race_key_of(message: Message) -> RaceKey | None:
    """The race/state/mode a message belongs to, or None when it lacks the contract's fields."""
    if not all(isinstance(message.get(f), str) and message[f] for f in RACE_FIELDS):
        return None
    mode = message.get("mode", "live")
    if mode not in ("live", "test"):
        return None
    return RaceKey(message["election_id"], message["race_id"], message["state"], mode)


def parse_time(text: str) -> datetime | None:
    """RFC 3339 (with `Z` or an offset) to an aware datetime; None when it is not one."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


class ResultStore:
    def __init__(self, show_test: bool = False, max_alerts: int = MAX_ALERTS) -> None:
        self.show_test = show_test
        self.states: dict[RaceKey, Message] = {}
        self.counties: dict[RaceKey, dict[str, Message]] = {}
        self.alerts: OrderedDict[str, Message] = OrderedDict()  # alert_id -> alert with `seq`
        self.max_alerts = max_alerts
        self.alert_seq = 0

    def visible(self, key: RaceKey) -> bool:
        return key.mode == "live" or self.show_test

    def apply_state(self, message: Message) -> bool:
        """Hold a `state-result/1` if it is newer than the held one; True when it was."""
        key = race_key_of(message)
        if key is None or not self.visible(key) or not is_newer(message, self.states.get(key)):
            return False
        self.states[key] = message
        return True

    def apply_county(self, message: Message) -> bool:
        """Hold a `county-result/1` if it is newer than the held one; True when it was."""
        key = race_key_of(message)
        fips = message.get("county_fips")
        if key is None or not isinstance(fips, str) or not self.visible(key):
            return False
        held = self.counties.setdefault(key, {})
        if not is_newer(message, held.get(fips)):
            return False
        held[fips] = message
        return True

    def apply_alert(self, message: Message) -> Message | None:
        """Number and hold a new `alert/1`; None for a repeat, a test alert or a malformed one."""
        key = race_key_of(message)
        alert_id = message.get("alert_id")
        if key is None or not self.visible(key) or not isinstance(alert_id, str) or alert_id in self.alerts:
            return None
        self.alert_seq += 1
        numbered = {**message, "seq": self.alert_seq}
        self.alerts[alert_id] = numbered
        if len(self.alerts) > self.max_alerts:
            self.alerts.popitem(last=False)
        return numbered

    def state(self, key: RaceKey) -> Message | None:
        return self.states.get(key) if self.visible(key) else None

    def counties_of(self, key: RaceKey) -> list[Message]:
        held = self.counties.get(key, {}) if self.visible(key) else {}
        return [held[fips] for fips in sorted(held)]

    def races(self) -> list[Message]:
        """One summary per race/state/mode, in a stable order, for `GET /v1/races`."""
        return [race_summary(key, self.states[key]) for key in sorted(self.states)]

    def alerts_since(self, since: str | None) -> list[Message]:
        """Alerts after a gateway `seq` (an integer) or after a source time (RFC 3339)."""
        held = list(self.alerts.values())
        if not since:
            return held
        if since.isdigit():
            return [a for a in held if a["seq"] > int(since)]
        after = parse_time(since)
        if after is None:
            raise ValueError(f"since={since!r} is neither an alert seq nor an RFC 3339 time")
        return [a for a in held if (at := parse_time(str(a.get("at", "")))) is not None and at > after]

    def count(self, kind: Kind) -> int:
        if kind == "state":
            return len(self.states)
        if kind == "county":
            return sum(len(held) for held in self.counties.values())
        return len(self.alerts)


def is_newer(message: Message, held: Message | None) -> bool:
    version = message.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        return False
    return held is None or version > held["version"]


SUMMARY_FIELDS = ("version", "as_of", "readout", "leader", "total_votes", "pct_expected_counted",
                  "pct_precincts_reporting", "certified")


def race_summary(key: RaceKey, snapshot: Message) -> Message:
    summary: Message = {"election_id": key.election_id, "race_id": key.race_id, "state": key.state, "mode": key.mode}
    summary.update({f: snapshot.get(f) for f in SUMMARY_FIELDS})
    summary["href"] = f"/v1/results/{key.election_id}/{key.race_id}/{key.state}" + (
        "?mode=test" if key.mode == "test" else "")
    return summary
