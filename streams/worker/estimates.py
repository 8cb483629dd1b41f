"""Alerts about a race's estimate: `expected_vote_revised`, and what a new estimate makes true of
the count (a milestone passed, votes past the estimate, out of reach).

Every worker reads the whole race book, but only the race's owner (the worker whose home
partitions hold its tally) speaks about it, and only from a whole tally: during a rebuild the
tally is half read, and comparing the estimates on it would raise a false milestone and miss
real ones. So an estimate taken while the owner rebuilds waits (`due`) until its tallies are
whole. The owner compares the new estimate with the one it last alerted on (`alerted`), not with
the race book's previous one: a successor learns that one from the alerts its predecessors
delivered (streams.worker.rebuild.alerted_estimates), so after a crash it neither repeats a
revision already said nor misses one that was not (a repeat would be harmless, the ids are
deterministic; a miss is the failure to avoid). The race book's consumer offsets play no part:
they are shared by every worker and say nothing of what the owner said.
"""

from __future__ import annotations

from collections.abc import Callable

from streams.contract import ExpectedVote
from streams.counting import CountingRoom
from streams.worker.outbox import Outbox, Receipt


class EstimateAlerts:
    """`owns(race_key)`: whether this worker holds the race's tally; `whole()`: whether its tallies are whole."""

    def __init__(self, room: CountingRoom, outbox: Outbox, owns: Callable[[str], bool],
                 whole: Callable[[], bool]) -> None:
        self.room = room
        self.outbox = outbox
        self.owns = owns
        self.whole = whole
        self.alerted: dict[str, ExpectedVote] = {}  # race key -> the estimate last alerted on
        self.due: set[str] = set()  # races whose estimate came while the tallies were being rebuilt

    def taken(self, race: str) -> None:
        """The race book took a new estimate for `race` (BookReader's `on_estimate`)."""
        if not self.owns(race):
            return  # its owner speaks
        if self.whole():
            self.speak(race)
        else:
            self.due.add(race)

    def heard(self, said: dict[str, ExpectedVote]) -> None:
        """What earlier owners alerted on, read from results-alerts for rebuilt partitions."""
        for race, estimate in said.items():
            if race not in self.alerted or estimate.seq > self.alerted[race].seq:
                self.alerted[race] = estimate

    def tallies_whole(self, rebuilt: Callable[[str], bool]) -> None:
        """The tallies are whole again: say what came meanwhile, and what the rebuilt races'
        earlier owners had not said."""
        races = self.due | {race for race in self.room.book.expected if rebuilt(race)}
        self.due = set()
        for race in sorted(races):
            if self.owns(race):
                self.speak(race)

    def forget(self, doomed: Callable[[str], bool]) -> None:
        """The races of partitions this worker lost or is about to rebuild: asked of the log again."""
        self.alerted = {race: estimate for race, estimate in self.alerted.items() if not doomed(race)}
        self.due = {race for race in self.due if not doomed(race)}

    def speak(self, race: str) -> None:
        new = self.room.book.expected.get(race)
        last = self.alerted.get(race)
        if new is None or (last is not None and last.seq >= new.seq):
            return
        self.alerted[race] = new
        # No input record to ack: a lost alert is said again by the next owner, from the log.
        self.outbox.send_alerts(self.room.expected_changed(last, new), Receipt())
