"""The race calls a worker holds, and the alerts calls and thresholds raise. Pure, like `alerts`.

`CallBook` keeps the latest call per race and mode (a higher `seq` replaces it) and says what
a new one means: `race_called` (a call comes into force: called, or a runoff), `call_changed`
(a call in force names other winners or another status), `call_retracted` (a call in force
withdrawn: retracted, or back to too early or too close; critical). Each call past the one last
said (`alerted`) is said once, against the call before it, when it can be: a call never
lifts an embargo (design rule 7), and the alerts of a call that comes while its race's count is
embargoed are owed until the count is released (`owed`). Only a race's owner asks
(streams.worker.call_alerts): every worker holds every call.
`runoff_alerts` raise `runoff_likely` when a race with a `win_threshold` can no longer see its
leader pass it, even with every expected vote still out: once, when it first becomes true of
what is released, whichever record makes it so (a report, an estimate, or the definition that
brings the threshold, read after the count).

Every alert id is deterministic: the call's alerts hash the type, the tally and the call's
`seq`; `runoff_likely` the record that made it true, as the other standing alerts do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from streams.contract import Alert, AlertType, RaceCall, RaceDefinition, TallyKey
from streams.counting.alerts import Severity, Standing
from streams.counting.figures import share
from streams.errors import InvalidRecord


def check_call(call: RaceCall, definition: RaceDefinition | None) -> None:
    """A call must name a race the book knows, its candidates, and no more winners than seats."""
    if definition is None:
        raise InvalidRecord(f"no race {call.race} in the race book: a call needs the race's definition",
                            "unknown_race")
    known = {c.candidate_id for c in definition.candidates}
    for winner in call.winners:
        if winner not in known:
            raise InvalidRecord(f"winners names {winner!r}, who is not a candidate of {call.race}",
                                "unknown_candidate")
    seats = definition.rules.seats
    if call.status == "called" and len(call.winners) > seats:
        raise InvalidRecord(f"winners names {len(call.winners)} candidates, but {call.race} elects {seats}",
                            "bad_call")


@dataclass
class CallBook:
    calls: dict[TallyKey, RaceCall] = field(default_factory=dict)  # the latest call per tally
    # Every call taken per tally, oldest first: each is said in turn, however late (a few a race).
    history: dict[TallyKey, list[RaceCall]] = field(default_factory=dict)
    # The call whose alerts were last said, per tally this worker owns (or its predecessors said,
    # `heard`): the calls after it are owed, so a call taken under embargo, or before a restart,
    # is said once, when it can be.
    alerted: dict[TallyKey, RaceCall] = field(default_factory=dict)

    def take(self, call: RaceCall, definition: RaceDefinition | None) -> bool:
        """Hold `call` if it is newer than the held one (whether it was). `InvalidRecord` when
        `check_call` refuses it."""
        check_call(call, definition)
        old = self.calls.get(call.tally_key)
        if old is not None and call.seq <= old.seq:
            return False  # a duplicate or a stale call
        self.calls[call.tally_key] = call
        self.history.setdefault(call.tally_key, []).append(call)
        return True

    def owed(self, key: TallyKey, definition: RaceDefinition | None) -> list[Alert]:
        """The alerts of `key`'s calls not said yet, each against the one before it, in order:
        the same alerts however late they are said."""
        last = self.alerted.get(key)
        unsaid = [c for c in self.history.get(key, ()) if last is None or c.seq > last.seq]
        alerts: list[Alert] = []
        for call in unsaid:
            alerts += call_alerts(last, call, definition)
            last = call
        if unsaid:
            self.alerted[key] = unsaid[-1]
        return alerts

    def heard(self, said: dict[TallyKey, RaceCall]) -> None:
        """What earlier owners said (streams.worker.call_alerts.said_calls): not said again."""
        for key, call in said.items():
            if key not in self.alerted or call.seq > self.alerted[key].seq:
                self.alerted[key] = call

    def forget(self, doomed: Callable[[TallyKey], bool]) -> None:
        """What was said of tallies this worker no longer owns: their next owner asks the log."""
        self.alerted = {key: call for key, call in self.alerted.items() if not doomed(key)}

    def revision(self, key: TallyKey) -> int:
        """What the held call adds to a snapshot's version (its offset in the topic; 0 without one)."""
        call = self.calls.get(key)
        return call.revision if call is not None else 0


def call_alerts(old: RaceCall | None, new: RaceCall, definition: RaceDefinition | None) -> list[Alert]:
    was_in_force = old is not None and old.in_force
    if new.in_force and not was_in_force:
        return [_call_alert("race_called", "info", new, f"{new.by} {_decision(new, definition)}.", old)]
    if new.in_force and old is not None and (old.status, old.winners) != (new.status, new.winners):
        message = f"{new.by} changed the call of {_place(new)}: {_what(new, definition)}, no longer " \
                  f"{_what(old, definition)}."
        return [_call_alert("call_changed", "warning", new, message, old)]
    if was_in_force and old is not None and not new.in_force:
        message = f"{new.by} retracted the call of {_place(new)} ({_what(old, definition)}): " \
                  f"no winner is declared now ({new.status.replace('_', ' ')})."
        return [_call_alert("call_retracted", "critical", new, message, old)]
    return []


def _decision(call: RaceCall, definition: RaceDefinition | None) -> str:
    if call.status == "runoff":
        return f"says {_place(call)} goes to a runoff between {_names(call.winners, definition)}"
    return f"called {_place(call)} for {_names(call.winners, definition)}"


def _what(call: RaceCall, definition: RaceDefinition | None) -> str:
    if call.status == "runoff":
        return f"a runoff between {_names(call.winners, definition)}"
    return f"for {_names(call.winners, definition)}"


def _names(ids: tuple[str, ...], definition: RaceDefinition | None) -> str:
    shown = {c.candidate_id: c.display for c in definition.candidates} if definition is not None else {}
    names = [shown.get(i, i) for i in ids]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _place(call: RaceCall) -> str:
    return f"{call.state} {call.race_id} ({call.mode})"  # as the other alerts name a tally


def _call_alert(type_: AlertType, severity: Severity, call: RaceCall, message: str, old: RaceCall | None) -> Alert:
    details: dict[str, object] = {
        "status": call.status, "winners": list(call.winners), "by": call.by, "seq": call.seq,
        "previous_status": old.status if old is not None else None,
        "previous_winners": list(old.winners) if old is not None else [],
        "previous_by": old.by if old is not None else None}
    return _alert(type_, severity, call.tally_key, call.at, message, details, ("call", str(call.seq)))


def _alert(type_: AlertType, severity: Severity, key: TallyKey, at: str, message: str, details: dict[str, object],
           ident: tuple[str, ...]) -> Alert:
    parts = (type_, key.state_result_key, *ident)
    alert_id = hashlib.sha1("\x1f".join(parts).encode(), usedforsecurity=False).hexdigest()[:24]
    return Alert(alert_id, type_, severity, key.election_id, key.race_id, key.state, key.mode, message, at,
                 details)


# --- runoff_likely ---------------------------------------------------------------------------


def runoff_alerts(key: TallyKey, was_likely: bool, after: Standing, definition: RaceDefinition | None, at: str,
                  ident: tuple[str, ...]) -> list[Alert]:
    """`runoff_likely` when, with this record, the leader can no longer pass the race's threshold
    even by winning every expected vote still out (or the count is over below it), and it was not
    so (`was_likely`) of what had been released before it."""
    if was_likely or not runoff_likely(after, definition):
        return []
    assert definition is not None  # runoff_likely says it has a threshold
    return [_runoff_likely_alert(key, after, definition, at, ident)]


def runoff_likely(standing: Standing, definition: RaceDefinition | None) -> bool:
    threshold = definition.rules.win_threshold if definition is not None else None
    left = standing.outstanding  # None: no estimate, or the count passed it (what is out is unknown)
    if threshold is None or left is None or standing.total_votes == 0:
        return False
    best = max(standing.votes.values(), default=0) + left
    return 100 * best <= threshold * (standing.total_votes + left)


def _runoff_likely_alert(key: TallyKey, after: Standing, definition: RaceDefinition, at: str,
                         ident: tuple[str, ...]) -> Alert:
    threshold = definition.rules.win_threshold or 0.0
    top, votes = max(after.votes.items(), key=lambda item: (item[1], item[0]))
    name = next((c.display for c in definition.candidates if c.candidate_id == top), top)
    left, total = after.outstanding or 0, after.total_votes
    now, best = share(votes, total), share(votes + left, total + left)
    place = f"{key.state} {key.race_id} ({key.mode})"
    if left:
        message = (f"No candidate can pass {threshold:g}% in {place}: {name} leads with {now:.1f}% and would "
                   f"reach {best:.1f}% even with all {left:,} expected votes still out. A runoff is likely.")
    else:
        message = f"{name} leads {place} with {now:.1f}%, not above the {threshold:g}% that wins outright: " \
                  "a runoff is likely."
    details: dict[str, object] = {"win_threshold": threshold, "leader": top, "leader_pct": now,
                                  "best_pct": best, "votes_outstanding": left, "total_votes": total}
    return _alert("runoff_likely", "warning", key, at, message, details, ident)
