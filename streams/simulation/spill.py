"""Nights too big to hold in memory (the `full` preset, ~10M reports): each state's lines are
written to a file of their own in time order as soon as the state is made, and the night is
written by merging those files, a chunk at a time.

The bytes are the same as the in-memory path's (`Lines.in_time_order`): there, lines sort by
time and then by the order they were made in, states in the preset's order; here each file is
one state's lines in that order, and `heapq.merge` takes equal times from the earlier file first.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from streams.simulation.lines import Lines
from streams.simulation.night import NightOutput, simulate_state

SPILL_CHUNK_LINES = 50_000


@dataclass
class SpilledLines(Lines):
    """`Lines` whose bytes are in files (one per state, each in time order), not in memory."""

    paths: list[Path] = field(default_factory=list)
    records: int = 0

    def __len__(self) -> int:
        return self.records

    def extend(self, other: Lines) -> None:
        if not isinstance(other, SpilledLines):
            raise TypeError("a spilled night takes spilled states only")
        self.paths += other.paths
        self.records += other.records
        self.malformed_count += other.malformed_count
        self.report_count += other.report_count

    def in_time_order(self, per_chunk: int) -> Iterator[bytes]:
        with ExitStack() as stack:
            files = [stack.enter_context(open(p, "rb")) for p in self.paths]
            merged = heapq.merge(*files, key=line_time)
            while chunk := list(islice(merged, per_chunk)):
                yield b"".join(chunk)

    def __getstate__(self) -> Any:  # plain fields, not Lines' packed blob
        return dict(self.__dict__)

    def __setstate__(self, state: Any) -> None:
        self.__dict__.update(state)


def line_time(line: bytes) -> int:
    """A recording line's `ts`: every line the simulator writes starts `{"ts":<ms>,`."""
    return int(line[6:line.index(b",", 6)])


def simulate_state_spilled(path: Path, *job: Any) -> NightOutput:
    """`simulate_state(*job)`, its lines written to `path` in time order; only counts come back."""
    part = simulate_state(*job)
    with open(path, "wb") as out:
        for chunk in part.out.in_time_order(SPILL_CHUNK_LINES):
            out.write(chunk)
    spilled = SpilledLines(part.out.base_ms, malformed_count=part.out.malformed_count,
                           report_count=part.out.report_count, paths=[path], records=len(part.out))
    return NightOutput(spilled, part.truth, part.baselines)
