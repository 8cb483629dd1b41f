"""The cyclic garbage collector, tended for a process whose state is millions of long-lived objects.

A national night's tallies are a few million objects that live as long as the worker. Python's
collector walks every tracked object in each full collection, and those come again and again
while the state grows: in-process, over the us night, decode and apply took 39.6 s of CPU with
the collector as it is, 30.7 s when what survived was frozen every few seconds
(`gc.freeze()`: out of the collector's sight, still freed by reference counting).

So, on a timer: after a tick in which records were taken, freeze what survived. Freezing has a
cost of its own: a cycle that was alive when frozen and dies later stays in memory (our
tallies hold no cycles; asyncio and client internals can). So once input goes quiet, or at
the latest every `full_every_s` while it never does, everything is unfrozen and collected in
one full pass (about a second over a national state), then frozen again.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

FULL_EVERY_S = 600.0


class CollectorTending:
    def __init__(self, full_every_s: float = FULL_EVERY_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.full_every_s = full_every_s
        self.clock = clock
        self.last_full = clock()
        self.frozen_since_full = False

    def tick(self, busy: bool) -> None:
        """`busy`: records were taken since the last tick."""
        if busy:
            gc.freeze()
            self.frozen_since_full = True
        if self.frozen_since_full and (not busy or self.clock() - self.last_full >= self.full_every_s):
            self.full_collection()

    def full_collection(self) -> None:
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self.last_full = self.clock()
        self.frozen_since_full = False
