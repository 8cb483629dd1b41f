"""What every source adapter shares: the record it emits and the change tracker.

An adapter reads a source (media files, AP JSON, Clarity XML, CSV) and yields `OutRecord`s
in source-time order: race definitions, expected votes and precinct results of the contract.
It emits a reporting unit only when its counts changed since the unit's previous report, with
a `seq` one higher each time (`UnitTracker`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# format name -> module implementing it (`add_arguments(parser)`, `records(args)`)
FORMATS: dict[str, str] = {
    "mn-sos": "streams.adapters.mn_sos",
    "ap": "streams.adapters.ap",
    "ap-poll": "streams.adapters.ap_poll",
    "clarity": "streams.adapters.clarity",
    "openelections": "streams.adapters.openelections",
}


@dataclass(frozen=True, slots=True)
class OutRecord:
    """One record for a contract topic (name without prefix), as a recording line holds it."""

    ts_ms: int
    topic: str
    key: str | None
    value: Mapping[str, Any]


@dataclass
class UnitTracker:
    """Remembers each unit's last emitted content; says whether a new one changed, and its seq."""

    _last: dict[str, tuple[int, Any]] = field(default_factory=dict)

    def next_seq(self, unit_id: str, content: Any) -> int | None:
        """The seq to emit for `content`, or None when it equals the unit's last report."""
        last = self._last.get(unit_id)
        if last is not None and last[1] == content:
            return None
        seq = 0 if last is None else last[0] + 1
        self._last[unit_id] = (seq, content)
        return seq
