"""The freeze fence: a worker woken from a freeze publishes nothing until the group has had its say.

A worker frozen past its session timeout (SIGSTOP, a paused VM) wakes up a zombie: its
partitions may belong to a successor that has published newer figures since. The fence is
the worker's own look at the clock; the transactional producers (streams.worker.publisher)
are the broker's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

FREEZE_TICK_S = 0.5  # how often the freeze watch looks at the clock
# A loop that was away longer than this share of the session timeout may have lost its
# partitions (the whole process frozen: SIGSTOP, a paused VM). Faust heartbeats from a thread
# of its own, so a merely busy loop does not lose them; this only has to catch a freeze.
FREEZE_SHARE = 0.8


class FreezeFence:
    """`app`: the faust app (is the group rebalancing, which generation); `settled()`: no rebuild
    is running; `on_lift()`: what to do when the fence lifts without a rebalance."""

    def __init__(self, app: Any, session_timeout_s: float, settled: Callable[[], bool],
                 on_lift: Callable[[], None]) -> None:
        self.app = app
        self.session_timeout_s = session_timeout_s
        self.settled = settled
        self.on_lift = on_lift
        self.alive_at: float | None = None  # loop time of the freeze watch's last look
        self.fenced = False  # woken from a freeze: nothing published until the group has had its say

    async def watch_for_freezes(self) -> None:
        while True:
            self.check_freeze()
            await asyncio.sleep(FREEZE_TICK_S)

    def check_freeze(self) -> None:
        """A worker frozen past its session timeout (SIGSTOP) wakes up a zombie: its partitions
        may belong to a successor that has published newer figures since. Until the group says
        which partitions are still its own (a rebalance, whose rebuild re-checks every kept
        partition against the committed offsets) or a session timeout passes without one, it
        publishes nothing and writes no checkpoint (`fenced`). The agent is not paused: faust
        waits for it to finish its record before it revokes, and the rebuild puts right
        whatever it counts meanwhile. The publisher looks too before it sends, so that the
        first round after the wake-up cannot slip out before this task has run."""
        now = asyncio.get_running_loop().time()
        gap, self.alive_at = (0.0 if self.alive_at is None else now - self.alive_at), now
        if gap <= FREEZE_SHARE * self.session_timeout_s or self.fenced:
            return
        log.warning("the worker was frozen for %.1f s, past its session timeout: it publishes nothing until "
                    "the group confirms its partitions", gap)
        self.fenced = True
        generation = getattr(self.app, "consumer_generation_id", None)
        asyncio.get_running_loop().call_later(self.session_timeout_s, self.lift_fence, generation)

    def lift_fence(self, generation: Any) -> None:
        """No rebalance came within a session timeout of the wake-up: the session had held."""
        if self.app.rebalancing or getattr(self.app, "consumer_generation_id", None) != generation:
            return  # the group is moving: the assignment's rebuild makes the tallies whole again
        if not self.fenced or not self.settled():
            return
        log.info("no rebalance after the freeze: the partitions are still this worker's; publishing again")
        self.on_lift()  # a round may have been cut short by the freeze: everything due again
        self.fenced = False
