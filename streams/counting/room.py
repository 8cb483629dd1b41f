"""The counting room: every tally a worker holds, the race book, and what is due to publish.

No Kafka here: the agents hand it decoded records and send what it returns. It is all
derived state, rebuilt from the input log after a start or a rebalance (`replay_report`,
streams.worker.rebuild), so nothing in it must be written in step with anything else (design rule 1).

Publishing is coalesced: applying a report only marks its tally dirty; `due_state_snapshots`
and `due_county_snapshots` are called on a wall-clock timer and build at most one snapshot per
key per call. The timer decides *when*; what a snapshot says depends only on the records
(design rule 5).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from streams.contract import Alert, ExpectedVote, PrecinctReport, RaceCall, RaceDefinition, TallyKey
from streams.counting import figures
from streams.counting.alerts import Standing, expected_alerts, race_alerts, standing, unit_alerts
from streams.counting.calls import CallBook, runoff_alerts, runoff_likely
from streams.counting.holds import Floor, reached
from streams.counting.projection import RaceModels
from streams.counting.race_book import RaceBook
from streams.counting.snapshots import county_snapshot, state_snapshot
from streams.counting.tally import Applied, RaceTally, StoredUnit

# Alerts that say nothing of the count (an estimate's revision): released even under embargo.
COUNTLESS_ALERTS = frozenset({"expected_vote_revised"})


def released(alerts: list[Alert], tally: RaceTally, definition: RaceDefinition | None) -> list[Alert]:
    """Alerts are results too (a lead change names the leader and the shares): none from a tally
    still under embargo (design rule 7), but those that carry no count. They are not held back
    for later: the first alert after polls close compares with the standing at that moment."""
    if not alerts or not figures.embargoed(tally.embargo_ms, definition):
        return alerts
    return [a for a in alerts if a.type in COUNTLESS_ALERTS]


def _runoff_said(tally: RaceTally, definition: RaceDefinition | None, before: Standing) -> bool:
    """Whether `runoff_likely` held of the tally's released figures `before` (then it was said)."""
    return not figures.embargoed(tally.embargo_ms, definition) and runoff_likely(before, definition)


@dataclass(frozen=True, slots=True)
class Snapshot:
    kind: str  # "state" | "county"
    key: str  # the output topic key
    home: str  # the state key (`TallyKey.home`): its home partition publishes it
    value: dict[str, Any]
    counted: int  # the units' part of the version (seq + 1 over the units), sent as holds.COUNTED_HEADER


@dataclass(slots=True)
class _Observed:
    """A race that a record touches: its figures before the record, and its last applied report.

    `silent`: embargoed whatever the record brings (`RaceTally.embargoed_whatever_comes`), so
    every alert it could raise would be held back (`released`): none is worked out, nor the
    figures they compare. Only countless alerts pass an embargo, and a report raises none."""

    tally: RaceTally
    definition: RaceDefinition | None
    expected: ExpectedVote | None
    before: Standing | None  # None when silent
    kafka_time_rose: bool  # the record's Kafka time is the latest the tally has seen
    was_released: bool  # the figures before the record were out of the embargo (their alerts said)
    last: PrecinctReport | None = None

    def race_alerts(self) -> list[Alert]:
        if self.last is None or self.before is None:
            return []  # nothing applied (no new figures), or silent
        after = standing(self.tally, self.definition, self.expected)
        alerts = race_alerts(self.tally.key, self.last, self.before, after, self.definition)
        was_likely = self.was_released and runoff_likely(self.before, self.definition)
        alerts += runoff_alerts(self.tally.key, was_likely, after, self.definition, self.last.reported_at,
                                ("precinct", self.last.precinct_id, str(self.last.seq)))
        return released(alerts, self.tally, self.definition)


@dataclass
class CountingRoom:
    book: RaceBook = field(default_factory=RaceBook)
    calls: CallBook = field(default_factory=CallBook)  # the race calls (streams.counting.calls)
    tallies: dict[TallyKey, RaceTally] = field(default_factory=dict)
    dirty: set[TallyKey] = field(default_factory=set)
    # Snapshots held back by the embargo (or a missing definition), for the metrics.
    embargoed: set[TallyKey] = field(default_factory=set)
    # Tallies whose state snapshot went out and whose dirty counties are still to be sent.
    counties_due: set[TallyKey] = field(default_factory=set)
    # Tallies not to publish yet, though dirty: rebuilt, and not yet past records that an
    # earlier owner may have published from (streams.counting.holds).
    held: Callable[[TallyKey], bool] = lambda _: False
    # The same for county snapshots, per county key: what an earlier owner published last, or
    # None. A county's snapshot can be newer than its state's (the county round runs after the
    # state round, and records are counted in between).
    county_floor: Callable[[str], Floor | None] = lambda _: None
    # The model of the vote still out, run as state snapshots are built (streams.counting.projection).
    models: RaceModels = field(default_factory=RaceModels)
    # Each race's tallies (one per state and mode), in the order they came: a race-book record
    # marks its race's tallies without a scan of all of them (on a full ballot's restart, that
    # scan per definition read was 84% of the worker's time, py-spy).
    _by_race: dict[str, dict[TallyKey, None]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        for key in self.tallies:
            self._by_race.setdefault(key.race, {})[key] = None

    def tally_for(self, key: TallyKey) -> RaceTally:
        tally = self.tallies.get(key)
        if tally is None:
            tally = self.tallies[key] = RaceTally(key)
            self._by_race.setdefault(key.race, {})[key] = None
        return tally

    def race_tallies(self, race: str) -> list[RaceTally]:
        """The tallies of `race` this room holds, in the order they came."""
        return [self.tallies[key] for key in self._by_race.get(race, ())]

    def apply_record(self, reports: list[PrecinctReport], kafka_ms: int | None) -> tuple[list[Applied], list[Alert]]:
        """Apply a record's reports in order, each as if it had come alone (design rule 1), the
        record Kafka timed `kafka_ms`: what each did, and the alerts raised. A unit's alerts come
        per report; a race's compare its figures before and after the whole record (a poll or a
        batch is one observation)."""
        results: list[Applied] = []
        alerts: list[Alert] = []
        races: dict[TallyKey, _Observed] = {}
        for report in reports:
            key = TallyKey(report.election_id, report.race_id, report.state, report.mode)
            race = races.get(key)
            if race is None:
                race = races[key] = self._observe(key, kafka_ms)
            applied = race.tally.apply(report)
            results.append(applied)
            if applied.unit is not None:
                race.last = report
                if race.before is not None:  # not silent
                    found = unit_alerts(key, report, applied, race.tally.votes, race.definition)
                    if found:
                        alerts += released(found, race.tally, race.definition)
        for key, race in races.items():
            if race.last is not None:
                self.dirty.add(key)
                alerts += race.race_alerts()
            elif race.kafka_time_rose and key in self.embargoed:
                self.dirty.add(key)  # a duplicate may be what tells that polls have closed
            if key in self.calls.calls:  # only the owner applies records: its call's alerts are its to say
                alerts += self.owed_call_alerts(key)
        return results, alerts

    def _observe(self, key: TallyKey, kafka_ms: int | None) -> _Observed:
        """A race the record touches, its Kafka time noted before its standing is taken."""
        tally = self.tally_for(key)
        definition, expected = self.book.definitions.get(tally.race), self.book.expected.get(tally.race)
        was_released = not figures.embargoed(tally.embargo_ms, definition)  # before this record's Kafka time
        kafka_time_rose = tally.note_kafka_time(kafka_ms)
        silent = tally.embargoed_whatever_comes(definition)
        return _Observed(tally, definition, expected, None if silent else standing(tally, definition, expected),
                         kafka_time_rose, was_released)

    def take_call(self, call: RaceCall) -> bool:
        """Hold a race call (`InvalidRecord` for one the race book refuses); whether it was newer.
        Its snapshot goes out with the next round, never before polls close (design rule 7); its
        alerts are the owner's to ask for (`owed_call_alerts`)."""
        taken = self.calls.take(call, self.book.definitions.get(call.race))
        if taken and call.tally_key in self.tallies:
            self.dirty.add(call.tally_key)
        return taken

    def owed_call_alerts(self, key: TallyKey) -> list[Alert]:
        """The alerts of `key`'s call not said yet, once its count is released (owed till then)."""
        tally, definition = self.tallies.get(key), self.book.definitions.get(key.race)
        if tally is None or figures.embargoed(tally.embargo_ms, definition):
            return []
        return self.calls.owed(key, definition)

    def replay_report(self, report: PrecinctReport, kafka_ms: int | None) -> None:
        """Apply a report an earlier owner already acted on (a rebuild): no alerts."""
        key = TallyKey(report.election_id, report.race_id, report.state, report.mode)
        tally = self.tally_for(key)
        tally.note_kafka_time(kafka_ms)
        if tally.apply(report).outcome == "applied":
            self.dirty.add(key)

    def forget_tallies(self, doomed: Callable[[TallyKey], bool] = lambda _: True) -> None:
        """Drop the tallies `doomed` names (all by default), and what was due from them: after a
        rebalance this worker no longer owns them, or is about to rebuild them. The race book stays."""
        for key in [k for k in self.tallies if doomed(k)]:
            del self.tallies[key]
            del self._by_race[key.race][key]
            self.dirty.discard(key)
            self.embargoed.discard(key)
            self.counties_due.discard(key)
            self.models.forget(key)
        self.calls.forget(doomed)

    def restore(self, key: TallyKey, precinct_id: str, unit: StoredUnit) -> None:
        self.tally_for(key).restore(precinct_id, unit)
        self.dirty.add(key)

    def restore_kafka_time(self, key: TallyKey, kafka_ms: int | None) -> None:
        self.tally_for(key).note_kafka_time(kafka_ms)

    def definition_changed(self, definition: RaceDefinition) -> None:
        self._mark_race(definition.key)

    def definition_alerts(self, old: RaceDefinition | None, new: RaceDefinition) -> list[Alert]:
        """What going from the definition `old` to `new` makes true of the race's count: a
        `runoff_likely` when the definition that brings the threshold is read after the count
        that cannot pass it (a live night's race book and reports are read side by side)."""
        expected = self.book.expected.get(new.key)
        alerts: list[Alert] = []
        for tally in self.race_tallies(new.key):
            was_likely = _runoff_said(tally, old, standing(tally, old, expected))
            alerts += released(runoff_alerts(tally.key, was_likely, standing(tally, new, expected), new,
                                             tally.as_of or new.polls_close, ("definition", str(new.revision))),
                               tally, new)
        return alerts

    def estimate_changed(self, race: str) -> None:
        """A new estimate for `race`: its snapshots are due again."""
        self._mark_race(race)

    def baseline_changed(self, race: str) -> None:
        self._mark_race(race)

    def expected_changed(self, old: ExpectedVote | None, new: ExpectedVote) -> list[Alert]:
        """The alerts of going from the estimate `old` to `new` (its snapshots are due again)."""
        self._mark_race(new.key)
        tallies = self.race_tallies(new.key)
        definition = self.book.definitions.get(new.key)
        alerts = expected_alerts(old, new, tallies, definition)
        for tally in tallies:
            was_likely = _runoff_said(tally, definition, standing(tally, definition, old))
            alerts += runoff_alerts(tally.key, was_likely, standing(tally, definition, new), definition,
                                    new.issued_at, ("expected", str(new.seq)))
        return [a for a in alerts if not figures.embargoed(self._embargo_ms(a), definition)
                or a.type in COUNTLESS_ALERTS]

    def _embargo_ms(self, alert: Alert) -> int | None:
        tally = self.tallies.get(TallyKey(alert.election_id, alert.race_id, alert.state, alert.mode))
        return tally.embargo_ms if tally is not None else None

    def _mark_race(self, race: str) -> None:
        self.dirty.update(self._by_race.get(race, ()))

    def mark_all_dirty(self) -> None:
        """Everything due again: a send failed, and which snapshots reached the broker is not
        known. Re-sending one that did is harmless (the same version, the same figures)."""
        self.dirty.update(self.tallies)
        for tally in self.tallies.values():
            tally.mark_counties_dirty()

    def races_polls_closed(self) -> int:
        """Races whose polls have closed by source time (the latest live report seen) and that
        are not certified: the ones that should be reporting, for the "no reports" alert."""
        now = max((t.as_of_ms or 0 for k, t in self.tallies.items() if k.mode == "live"), default=0)
        return sum(1 for d in self.book.definitions.values() if d.polls_close_ms <= now and not d.certified)

    def due_state_snapshots(self) -> Iterator[Snapshot]:
        """The latest state snapshot of every dirty tally past its embargo. Its dirty counties
        wait for `due_county_snapshots`, which the publisher may call less often."""
        pending, self.dirty = self.dirty, set()
        for key in sorted(pending, key=lambda k: k.state_result_key):
            tally = self.tallies.get(key)
            if tally is None:
                continue  # forgotten while the publisher awaited a send: a rebalance took it away
            if self.held(key):
                self.dirty.add(key)  # due once it is released
                continue
            definition = self.book.definitions.get(key.race)
            if definition is None or figures.embargoed(tally.embargo_ms, definition):
                # Counted, not released (design rule 7). The next report or definition marks it
                # dirty again and re-checks; the counties keep their dirty marks until then.
                self.embargoed.add(key)
                continue
            self.embargoed.discard(key)
            self.counties_due.add(key)
            expected = self.book.expected.get(key.race)
            model = self.models.run(tally, definition, self.book.baselines.get(key.race))
            self.models.check(tally, definition, expected, model)
            value = state_snapshot(tally, definition, expected, model, self.calls.calls.get(key))
            yield Snapshot("state", key.state_result_key, key.home, value, tally.seq_sum)

    def due_county_snapshots(self) -> Iterator[Snapshot]:
        """The latest snapshot of every dirty county of the tallies whose state snapshot went out.

        A county is released with its race (design rule 7 is the race's): its units' votes are in
        the state's figures already, and a county whose units' clocks say "before polls close",
        or that lost its last unit to another county, must still show its correction."""
        pending, self.counties_due = self.counties_due, set()
        for key in sorted(pending, key=lambda k: k.state_result_key):
            tally = self.tallies.get(key)
            if tally is None:
                continue  # forgotten while the publisher awaited a send: a rebalance took it away
            definition = self.book.definitions[key.race]  # a state snapshot went out: it has one
            expected = self.book.expected.get(key.race)
            held_back = []
            for county in sorted(tally.take_dirty_counties()):
                totals = tally.counties[county]
                county_key = key.county_result_key(county)
                floor = self.county_floor(county_key)
                counted = totals.version_seq_sum
                version = figures.snapshot_version(counted, expected, definition)
                if floor is not None and not reached(version, counted, totals.total_votes, floor):
                    held_back.append(county)
                    continue
                value = county_snapshot(tally, county, definition, expected)
                yield Snapshot("county", county_key, key.home, value, counted)
            if held_back:  # due again once the records an earlier owner published from come again
                tally.mark_counties_dirty(held_back)
                self.counties_due.add(key)
