"""Holds: a rebuilt tally publishes nothing older than what an earlier owner already published.

The rebuild after an assignment stops at the group's committed offset, but an owner that was
killed or frozen may have counted and published records past it. Until the rebuilt tally
reaches what is already out (`reached`), its snapshots stay due but are not released
(`CountingRoom.held`, `CountingRoom.county_floor` ask here). Pure: the worker reads what was
published (streams.worker.rebuild.latest_versions) and hands it to `Holds.hold_back`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from streams.contract import TallyKey, state_key
from streams.counting.figures import snapshot_version

if TYPE_CHECKING:
    from streams.counting.room import CountingRoom

log = logging.getLogger(__name__)


# The header each snapshot record carries with its `counted` (streams.counting.room.Snapshot):
# what an earlier owner counted, for the holds of the next one (streams.worker.rebuild.latest_versions).
COUNTED_HEADER = "votewire-counted"


class Floor(NamedTuple):
    """What an earlier owner last published for a key, read back from the output topic."""

    version: int
    total_votes: int
    # The units' part of its version (its COUNTED_HEADER); None for a snapshot written before
    # snapshots carried it.
    counted: int | None


def reached(version: int, counted: int, total_votes: int, floor: Floor) -> bool:
    """Whether a snapshot of `version`, `counted` (the units' part of the version, seq + 1 over
    the units) and `total_votes` may follow the one `floor` describes without taking figures back.

    The count itself must have reached what was published: the version also rises with the
    definition's revision and the estimate's seq, which count nothing, so a re-emitted
    definition would let a tally with fewer reports pass a published version. Then the version
    too (a lower one is ignored by every reader). At an equal value either way it takes the
    same total: both are sums, and an equal sum alone does not say the figures are the same.
    """
    same_total = total_votes == floor.total_votes
    if floor.counted is not None and not (counted > floor.counted or (counted == floor.counted and same_total)):
        return False
    return version > floor.version or (version == floor.version and same_total)


def home_of(result_key: str, after_state: int) -> str:
    """The state key (`TallyKey.home`) of a race key (`after_state` 0), a `state-results` key
    (1: the mode follows the state) or a `county-results` key (2: the county and the mode). Read
    from both ends: a race id in the middle may hold a "/", an election id, a state or a county
    does not."""
    fields = result_key.split("/")
    return state_key(fields[0], fields[-1 - after_state])


class Holds:
    """The versions earlier owners published, per key of the partitions this worker rebuilt,
    while its tallies are short of them. `home_partition(state_key)` says where a key lives."""

    def __init__(self, room: CountingRoom, home_partition: Callable[[str], int]) -> None:
        self.room = room
        self.home_partition = home_partition
        # state-results key -> what an earlier owner published, while this one is short of it.
        self.published: dict[str, Floor] = {}
        # county-results key -> the same, for the county snapshots (CountingRoom.county_floor).
        self.county_published: dict[str, Floor] = {}
        room.held = self.is_held
        room.county_floor = self.county_floor

    def hold_back(self, partitions: set[int], published: dict[str, Floor],
                  county_published: dict[str, Floor] | None = None) -> None:
        """Hold the snapshots of a rebuilt partition's tallies until they reach what an earlier
        owner last published. The rebuild stops at the committed offset, but an owner
        that was killed or frozen may have counted and published records past it: a snapshot
        of the rebuilt tallies would carry a lower version than one already out. Those records
        come again to the agent (from the committed offset); past them, the tally is whole.
        What is compared is the count (`reached`): the version is a sum (reports' seqs, the
        estimate's seq, the definition's revision), so a tally with fewer reports and a newer
        estimate or definition can reach it with other figures.

        County snapshots are held per county the same way, against `county_published`: the
        last county snapshot out may be newer than the last state snapshot (the county round
        follows the state round, and records are counted in between)."""
        held = {key: version for key, version in published.items()
                if self.home_partition(home_of(key, 1)) in partitions}
        self.published.update(held)
        self.county_published.update({key: version for key, version in (county_published or {}).items()
                                      if self.home_partition(home_of(key, 2)) in partitions})
        if held:
            log.info("partitions %s: %d snapshots held until their tallies reach the versions already published",
                     sorted(partitions), len(held))

    def is_held(self, key: TallyKey) -> bool:
        """Whether `key`'s tally is still short of the version an earlier owner published."""
        floor = self.published.get(key.state_result_key) if self.published else None
        if floor is None:
            return False
        definition = self.room.book.definitions.get(key.race)
        tally = self.room.tallies.get(key)
        if definition is None or tally is None:
            return True  # nothing to publish yet anyway
        baseline = self.room.book.baselines.get(key.race)
        version = snapshot_version(tally.seq_sum, self.room.book.expected.get(key.race), definition,
                                   baseline.seq if baseline is not None else None, self.room.calls.revision(key))
        if not reached(version, tally.seq_sum, tally.total_votes, floor):
            return True
        del self.published[key.state_result_key]
        return False

    def county_floor(self, county_key: str) -> Floor | None:
        """What an earlier owner last published for this county, while this worker may be short of it."""
        return self.county_published.get(county_key) if self.county_published else None

    def forget(self, partitions: set[int]) -> None:
        """Drop the holds of partitions this worker no longer owns (or is about to rebuild)."""
        if self.published:
            self.published = {key: version for key, version in self.published.items()
                              if self.home_partition(home_of(key, 1)) not in partitions}
        if self.county_published:
            self.county_published = {key: version for key, version in self.county_published.items()
                                     if self.home_partition(home_of(key, 2)) not in partitions}
