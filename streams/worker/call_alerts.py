"""Alerts about a race's call: `race_called`, `call_changed`, `call_retracted`; and the
`runoff_likely` a race's definition raises when it brings a threshold the count read before it
can no longer pass (`definition_taken`).

Every worker reads every call (the race book's reader), but only the race's owner (the worker
whose home partition holds its tallies) says what a call means, as with estimates
(streams.worker.estimates): N workers would send N alerts under one id. The owner says each
call past the one it last said (`CallBook.alerted`), and nothing of a count still under
embargo: the alerts are owed, and go out with the first record that releases the count
(`CountingRoom.apply_record`). A successor learns what its predecessors said from
results-alerts (`said_calls`, read at every rebuild), so after a restart a call held by the
embargo, or taken while the tallies were being rebuilt, is said once (a repeat would carry the
same deterministic id; a miss is the failure to avoid).

On a live night the race book and the reports are read side by side, so a race's first reports
may be counted before its definition is read; while the definition is missing the count is
embargoed and raises nothing (design rule 7). The owner says what the definition makes true once
it comes, from whole tallies, and only of definitions read after the book caught up at start (the
reader's `ready`): those read before are the book being rebuilt, said by an earlier run. One
taken during a rebuild of its race's partition is not said.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from streams.contract import RaceCall, RaceDefinition, TallyKey
from streams.counting import CountingRoom
from streams.worker.outbox import Outbox, Receipt


@dataclass
class CallAlerts:
    room: CountingRoom
    outbox: Outbox
    owns: Callable[[str], bool]  # whether this worker holds a race's tallies (by race key)
    whole: Callable[[], bool]  # whether its tallies are whole (no rebuild going on)

    def taken(self, key: TallyKey) -> None:
        """The race book took a new call for `key` (BookReader's `on_call`)."""
        if self.owns(key.race) and self.whole():
            self.say(key)
        # Else its owner says it, or this worker once its tallies are whole (`tallies_whole`).

    def definition_taken(self, old: RaceDefinition | None, new: RaceDefinition) -> None:
        """The race book took `new` in place of `old`, read live (BookReader's `on_definition`)."""
        if self.owns(new.key) and self.whole():
            # No input record to ack: the alert's id is the definition revision's.
            self.outbox.send_alerts(self.room.definition_alerts(old, new), Receipt())

    def tallies_whole(self) -> None:
        """The tallies are whole again: say what every owned race's call still owes (calls taken
        meanwhile, and those the rebuilt races' earlier owners had not said)."""
        for key in sorted(self.room.calls.calls, key=lambda k: k.state_result_key):
            if self.owns(key.race):
                self.say(key)

    def say(self, key: TallyKey) -> None:
        # No input record to ack: a lost alert is said again by the next owner, from the log.
        self.outbox.send_alerts(self.room.owed_call_alerts(key), Receipt())


def said_calls(alerts: Iterable[dict[str, Any]]) -> dict[TallyKey, RaceCall]:
    """The latest call each tally's alerts spoke of, from the alerts as sent: stand-ins with what
    comparing a new call with it needs (status, winners, by, seq)."""
    said: dict[TallyKey, RaceCall] = {}
    for value in alerts:
        with contextlib.suppress(TypeError, KeyError, ValueError):  # not one of ours: nothing said
            call = _said_call(value)
            if call.tally_key not in said or call.seq > said[call.tally_key].seq:
                said[call.tally_key] = call
    return said


def _said_call(value: dict[str, Any]) -> RaceCall:
    details = value["details"]
    return RaceCall(value["election_id"], value["race_id"], value["state"], value["mode"], details["status"],
                    tuple(details["winners"]), details["by"], value["at"], 0, int(details["seq"]))
