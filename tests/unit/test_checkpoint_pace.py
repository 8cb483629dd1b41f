"""The pace of the worker's checkpoints, on an injected clock: every interval while input flows,
at once when it goes quiet, and never so often that encoding takes more than a bounded share of
the main thread."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from streams.counting.room import CountingRoom
from streams.metrics import worker_metrics
from streams.settings import Settings
from streams.worker import checkpoint
from streams.worker.checkpoint import PartitionCheckpoints
from streams.worker.checkpoint_pace import ENCODING_SPACING, CheckpointPace
from tests.unit.test_checkpoint import IDENTITY, a_tally
from tests.unit.test_counting import LIVE


def test_while_input_flows_a_round_is_due_every_interval() -> None:
    pace = CheckpointPace(interval_s=30)
    assert not pace.due(100, quiet=False), "the interval counts from the first tick"
    assert not pace.due(129, quiet=False)
    assert pace.due(130, quiet=False)
    pace.encoded(130, 130.1)
    assert not pace.due(159, quiet=False)
    assert pace.due(160, quiet=False)


def test_a_round_that_took_long_to_encode_spaces_the_next_while_input_flows() -> None:
    pace = CheckpointPace(interval_s=30)
    pace.due(0, quiet=False)
    pace.encoded(30, 34)  # 4 s of encoding: 15 times that is past the interval
    assert not pace.due(30 + 4 * ENCODING_SPACING - 1, quiet=False)
    assert pace.due(30 + 4 * ENCODING_SPACING, quiet=False)
    pace.encoded(90, 90.5)  # cheap again: the interval alone
    assert pace.due(120, quiet=False)


@pytest.mark.parametrize("encoding_s", [0.0, 4.0])
def test_a_round_is_due_as_soon_as_input_goes_quiet(encoding_s: float) -> None:
    pace = CheckpointPace(interval_s=30)
    assert pace.due(0, quiet=True), "a worker caught up at its first tick writes at once"
    pace.encoded(0, encoding_s)
    assert pace.due(5, quiet=True)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def worker_checkpoints(tmp_path: Path, clock: Clock) -> tuple[PartitionCheckpoints, dict[tuple[str, int], int]]:
    room, positions = CountingRoom(), {("precinct-results", 0): 0}
    for precinct_id, unit in a_tally().units():
        room.restore(LIVE, precinct_id, unit)
    settings = Settings(data_dir=str(tmp_path), partitions=1, checkpoint_interval_s=30)
    written = PartitionCheckpoints(settings, room, positions, lambda: {0}, ("precinct-results",), lambda: True,
                                   worker_metrics(CollectorRegistry()), clock=clock)
    written.identity = IDENTITY
    return written, positions


def test_the_worker_waits_for_the_spacing_of_a_slow_encoding_and_not_for_quiet_input(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    encode = checkpoint.encode_checkpoint

    def taking_four_seconds(*args: Any) -> bytes:
        clock.now += 4.0
        return encode(*args)

    monkeypatch.setattr(checkpoint, "encode_checkpoint", taking_four_seconds)
    written, positions = worker_checkpoints(tmp_path, clock)

    def tick(at: float, offset: int) -> int | None:
        clock.now = at
        positions["precinct-results", 0] = offset
        asyncio.run(written.write_checkpoints())
        return written.checkpointed.get(0, {}).get("precinct-results")

    assert tick(1000, 10) is None, "input flows: the interval counts from here"
    assert tick(1030, 20) == 20, "the interval passed"
    assert tick(1060, 30) == 20, "the interval passed, but not 15 times the 4 s that round took"
    assert tick(1030 + 4 * ENCODING_SPACING, 40) == 40
    assert tick(1100, 50) == 40
    assert tick(1102, 50) == 50, "input went quiet: written at once"
