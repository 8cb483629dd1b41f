"""Race calls read before their race's definition, until it comes or could no longer come first.

Two topics are read side by side, so a call can be read before the definition of its race, though
the definition was written first: its partition was fetched later, or a replay's sends to the two
topics were in flight together. Such a call waits. It is taken the moment its race's definition
is read; it is refused (`unknown_race`, a dead letter) once the reader has read, on the
race-definitions partition its race's definition would be written to (the default partitioner's
choice for the race key), a record that Kafka timed after the call: a definition written before
the call would have been read by then (a partition is read in order, and a replay times each
record by its recording). A call whose race never comes and that no later definition passes
waits for as long as the worker runs: not refused, not lost (a definition may still come), and
the race book is not committed past it (`first_offset`), so a restarted worker reads it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams.contract import RaceCall
from streams.kafka.topics import home_partition


@dataclass(frozen=True, slots=True)
class WaitingCall:
    message: Any  # the race-calls record, for its dead letter
    fresh: bool  # past the race book's committed offset: its dead letter is this run's to send
    call: RaceCall
    partition: int  # the race-definitions partition its race's definition is written to


class WaitingCalls:
    """`partitions`: how many partitions race-definitions has."""

    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self.by_race: dict[str, list[WaitingCall]] = {}

    def wait(self, message: Any, fresh: bool, call: RaceCall) -> None:
        partition = home_partition(call.race, self.partitions)
        self.by_race.setdefault(call.race, []).append(WaitingCall(message, fresh, call, partition))

    def arrived(self, race: str) -> list[WaitingCall]:
        """The calls that waited for `race`, whose definition has just been read, in order."""
        return self.by_race.pop(race, [])

    def passed(self, partition: int, ts_ms: int) -> list[WaitingCall]:
        """The calls whose race's definition partition has just been read past them (a record
        timed `ts_ms`): their race is unknown."""
        if not self.by_race:
            return []  # the common case
        judged: list[WaitingCall] = []
        for race, calls in list(self.by_race.items()):
            done = [w for w in calls if w.partition == partition and w.message.timestamp < ts_ms]
            if done:
                judged += done
                left = [w for w in calls if w not in done]
                if left:
                    self.by_race[race] = left
                else:
                    del self.by_race[race]
        return judged

    def first_offset(self, topic: str, partition: int) -> int | None:
        """The offset of the first call still waiting on `topic`'s `partition`, if any."""
        offsets = [w.message.offset for calls in self.by_race.values() for w in calls
                   if w.message.topic == topic and w.message.partition == partition]
        return min(offsets, default=None)
