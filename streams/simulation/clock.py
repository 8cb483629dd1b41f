"""Time on the simulated night: millisecond constants, whole-second source times, RFC 3339 text."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
SECOND_SUFFIXES = tuple(b"%02dZ" % second for second in range(60))


def seconds(ms: float) -> int:
    """Source times in whole seconds, as feeds send them."""
    return int(ms) // 1000 * 1000


@dataclass
class Clock:
    """RFC 3339 text for epoch milliseconds. strftime runs once per minute, not once per
    record: the us preset stamps about half a million report times."""

    _minutes: dict[int, bytes] = field(default_factory=dict)  # minute -> b"YYYY-MM-DDTHH:MM:"

    def stamp(self, ms: int) -> bytes:
        """`b"2024-11-06T01:23:45Z"`."""
        minute, second = divmod(ms // 1000, 60)
        prefix = self._minutes.get(minute)
        if prefix is None:
            prefix = self._minutes[minute] = time.strftime("%Y-%m-%dT%H:%M:", time.gmtime(minute * 60)).encode()
        return prefix + SECOND_SUFFIXES[second]

    def rfc3339(self, ms: int) -> str:
        return self.stamp(ms).decode()
