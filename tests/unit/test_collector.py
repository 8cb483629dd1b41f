"""The collector's tending: survivors frozen while records come, cycles collected when input goes quiet."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from streams.worker.collector import CollectorTending


class Cycle:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def unfrozen_afterwards() -> Iterator[None]:
    yield
    gc.unfreeze()


def frozen_cycle() -> weakref.ref[Cycle]:
    """A reference cycle, frozen while alive and then dropped: garbage the collector cannot see."""
    cycle = Cycle()
    gc.freeze()
    ref = weakref.ref(cycle)
    del cycle
    return ref


def test_a_busy_tick_freezes_what_survived() -> None:
    gc.unfreeze()
    survivor = [object()]
    CollectorTending().tick(busy=True)
    assert gc.get_freeze_count() > 0
    assert survivor  # still reachable, of course: freezing frees nothing


def test_a_quiet_tick_after_busy_ones_collects_cycles_that_died_frozen() -> None:
    tending = CollectorTending()
    tending.tick(busy=True)
    ref = frozen_cycle()
    gc.collect()
    assert ref() is not None  # frozen: out of the collector's sight
    tending.tick(busy=True)
    assert ref() is not None  # still busy: no full collection yet
    tending.tick(busy=False)
    assert ref() is None  # quiet: unfrozen, collected, frozen again
    assert gc.get_freeze_count() > 0


def test_without_a_quiet_tick_a_full_collection_still_comes_after_full_every_s() -> None:
    now = [0.0]
    tending = CollectorTending(full_every_s=600.0, clock=lambda: now[0])
    tending.tick(busy=True)
    ref = frozen_cycle()
    now[0] = 599.0
    tending.tick(busy=True)
    assert ref() is not None
    now[0] = 600.0
    tending.tick(busy=True)
    assert ref() is None


def test_quiet_ticks_with_nothing_frozen_do_no_full_collection() -> None:
    tending = CollectorTending()
    tending.tick(busy=True)
    tending.tick(busy=False)  # the one full collection
    ref = frozen_cycle()  # frozen by someone else, not by the tending
    tending.tick(busy=False)
    assert ref() is not None  # nothing of the tending's to collect: no needless full pass
