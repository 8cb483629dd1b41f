"""Timers and tasks of the worker survive their own failures (streams.worker.guard)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from prometheus_client import CollectorRegistry

from streams.metrics import worker_metrics
from streams.worker.guard import restart_on_failure, survive_failures


def failures_of(registry: CollectorRegistry, task: str) -> float:
    return registry.get_sample_value("votewire_task_failures_total", {"task": task}) or 0.0


def test_a_failing_timer_tick_is_logged_and_counted_and_the_next_tick_runs(caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    ticks: list[int] = []

    async def tick() -> None:
        ticks.append(len(ticks))
        if len(ticks) == 1:
            raise TypeError("unsupported operand type(s) for -: 'NoneType' and 'int'")

    guarded = survive_failures("measure_lag", tick, worker_metrics(registry).task_failures)
    with caplog.at_level(logging.ERROR):
        asyncio.run(guarded())
        asyncio.run(guarded())
    assert ticks == [0, 1]
    assert failures_of(registry, "measure_lag") == 1
    assert "measure_lag failed" in caplog.text
    assert "NoneType" in caplog.text


def test_a_failing_task_is_started_again_until_it_ends_on_its_own() -> None:
    registry = CollectorRegistry()
    runs: list[int] = []

    async def task() -> None:
        runs.append(1)
        if len(runs) < 3:
            raise ConnectionError("broker went away")

    asyncio.run(restart_on_failure("follow_race_book", task, worker_metrics(registry).task_failures, pause_s=0)())
    assert len(runs) == 3
    assert failures_of(registry, "follow_race_book") == 2


def test_cancellation_still_stops_a_guarded_task() -> None:
    registry = CollectorRegistry()

    async def forever() -> None:
        await asyncio.Event().wait()

    async def main() -> None:
        running = asyncio.ensure_future(restart_on_failure("t", forever, worker_metrics(registry).task_failures)())
        await asyncio.sleep(0.01)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running

    asyncio.run(main())
    assert failures_of(registry, "t") == 0
