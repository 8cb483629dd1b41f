"""A worker's timers and background tasks must never take the worker down.

Faust stops the whole worker when a timer or task raises (it treats it as a crashed service).
A metrics timer that trips on a partition it has just been assigned (its high-water mark not
fetched yet) must not stop the counting. So every timer and task of the worker runs inside
one of these: a failure is logged with its traceback, counted in
`votewire_task_failures_total{task}`, and the timer fires again on its next tick; a task that
fails is started again after a pause. Cancellation (the worker stopping) passes through.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import Counter

log = logging.getLogger(__name__)

AsyncStep = Callable[[], Awaitable[None]]


def survive_failures(name: str, step: AsyncStep, failures: Counter) -> AsyncStep:
    """`step`, but a failure is logged and counted instead of raised (for a timer's tick)."""

    async def guarded() -> None:
        await _attempt(name, step, failures)

    return guarded


def restart_on_failure(name: str, task: AsyncStep, failures: Counter, pause_s: float = 1.0) -> AsyncStep:
    """`task`, started again `pause_s` after each failure (for a task meant to run until stopped)."""

    async def run() -> None:
        while True:
            if await _attempt(name, task, failures):
                return  # ended on its own: nothing to restart
            await asyncio.sleep(pause_s)

    return run


async def _attempt(name: str, step: AsyncStep, failures: Counter) -> bool:
    """Run `step`; False (logged, counted) when it failed."""
    try:
        await step()
    except asyncio.CancelledError:
        raise
    except Exception:
        failures.labels(task=name).inc()
        log.exception("%s failed; the worker carries on", name)
        return False
    return True
