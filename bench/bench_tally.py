"""Throughput of the pure tally core: how many precinct reports per second one process applies.

    .venv/bin/python bench/bench_tally.py                       # 1,000,000 reports, 178,000 precincts
    .venv/bin/python bench/bench_tally.py --reports 200000 --path apply

The target (the project brief): ~1M reports over 178,000 precincts in <= 60 s on 2 cores, end to
end. `--path worker` times what the worker does per record besides Kafka, each report a record
of its own (`CountingRoom.apply_record`: the race's standing before and after, apply, alerts;
encoding the stored unit); `--path apply` times `RaceTally.apply` alone.
Reports are generated beforehand in batches (not timed): 50 states, ~3,100 counties, each
precinct re-reported with growing cumulative counts and an occasional downward correction.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shlex
import sys
import time
from collections.abc import Iterator

from bench.peers.unit_codec import encode_unit
from streams.contract import Candidate, ExpectedVote, PrecinctReport, RaceDefinition, TallyKey
from streams.counting.room import CountingRoom
from streams.counting.snapshots import county_snapshot, state_snapshot
from streams.counting.tally import RaceTally

STATES = [f"S{i:02d}" for i in range(50)]
CANDIDATES = ("harris", "trump", "oliver", "stein", "kennedy")
BATCH = 50_000


def definition(state: str, precincts: int) -> RaceDefinition:
    cands = tuple(Candidate(c, c.title(), p) for c, p in zip(CANDIDATES, ("DEM", "REP", "LIB", "GRN", "IND"),
                                                                strict=True))
    return RaceDefinition("2024-11-05", "president", state, "U.S. President", cands, precincts,
                          "2024-11-06T01:00:00Z", 0, certified=False)


def reports(n: int, precincts: int, rng: random.Random) -> Iterator[list[PrecinctReport]]:
    """Batches of reports; each precinct's counts grow, 1 in 200 is corrected downwards."""
    seqs = [0] * precincts
    counts = [[0] * len(CANDIDATES) for _ in range(precincts)]
    batch: list[PrecinctReport] = []
    for i in range(n):
        p = rng.randrange(precincts)
        row = counts[p]
        for c in range(len(CANDIDATES)):
            row[c] = max(0, row[c] + (rng.randrange(400 >> c) if rng.random() > 0.005 else -rng.randrange(20)))
        state = STATES[p % len(STATES)]
        batch.append(PrecinctReport(
            "2024-11-05", "president", state, f"{p % 3100:05d}", f"P{p}", seqs[p], "2024-11-06T03:00:00Z",
            3_600_000 + i, dict(zip(CANDIDATES, row, strict=True)), complete=seqs[p] >= 3,
            registered_voters=5000))
        seqs[p] += 1
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def run(args: argparse.Namespace) -> tuple[int, float, float, float]:
    tallies = {s: RaceTally(TallyKey("2024-11-05", "president", s, "live")) for s in STATES}
    defs = {s: definition(s, args.precincts // len(STATES)) for s in STATES}
    expected = {s: ExpectedVote("2024-11-05", "president", s, 40_000_000 // len(STATES), {}, 0, "", 0)
                for s in STATES}
    room = CountingRoom(tallies={t.key: t for t in tallies.values()})
    room.book.definitions.update({d.key: d for d in defs.values()})
    room.book.expected.update({e.key: e for e in expected.values()})
    elapsed, cpu, done = 0.0, 0.0, 0
    for batch in reports(args.reports, args.precincts, random.Random(7)):
        start, start_cpu = time.perf_counter(), time.process_time()
        if args.path == "apply":
            for r in batch:
                tallies[r.state].apply(r)
        else:
            for r in batch:
                [applied], _ = room.apply_record([r], r.reported_ms)
                if applied.unit is not None:
                    encode_unit(applied.unit)
        elapsed += time.perf_counter() - start
        cpu += time.process_time() - start_cpu
        done += len(batch)
    return done, elapsed, cpu, snapshots(tallies, defs, expected)


def snapshots(tallies: dict[str, RaceTally], defs: dict[str, RaceDefinition],
              expected: dict[str, ExpectedVote]) -> float:
    """Seconds to build every state snapshot and every dirty county's: a full publish round."""
    start = time.perf_counter()
    for state, tally in tallies.items():
        state_snapshot(tally, defs[state], expected[state])
        for fips in tally.take_dirty_counties():
            county_snapshot(tally, fips, defs[state], expected[state])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--precincts", type=int, default=178_000)
    parser.add_argument("--path", choices=["worker", "apply"], default="worker")
    args = parser.parse_args()
    done, elapsed, cpu, publish = run(args)
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    print(f"machine: {platform.platform()}, {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} cpus, {platform.processor() or platform.machine()}")
    # CPU seconds too: on a shared machine wall time also counts other processes' turns.
    print(f"path={args.path}: {done:,} reports over {args.precincts:,} precincts in {elapsed:.2f} s wall, "
          f"{cpu:.2f} s CPU = {done / elapsed:,.0f} reports/s wall, {done / cpu:,.0f} reports/s CPU (one process)")
    print(f"one full publish round (50 state + all dirty county snapshots): {publish * 1000:.0f} ms")


if __name__ == "__main__":
    main()
