"""A seeded, deterministic election night at any scale, as a recording (`votewire simulate`).

    votewire simulate --preset us --seed 7 --out night.jsonl.gz
    votewire simulate --preset small --target CA=Harris:58.5,Trump:38.3 --malformed 0.01 --out s.jsonl
    votewire simulate --preset small --per-race --out s.jsonl      # one precinct-batch/1 per race
    votewire simulate --preset tiny --single --out t.jsonl          # one record per report

Writes a recording (JSON Lines, gzip for `.gz`) that `votewire replay` sends: race definitions
(marked `"simulated": true`: the counts are invented, the places and candidates real), revised
expected votes, and precinct reports with duplicates, out-of-order deliveries, downward
corrections and, on request, malformed reports. Reports go as a feed polled every minute
delivers them: one `state-poll/1` record per state and window of `--batch-window` seconds,
every race of the state in it (late reports in late polls; see `streams.simulation.polls`),
one `precinct-batch/1` per race, state and window with `--per-race`
(`streams.simulation.packaging`), or one record each with `--single`; all keyed by state.
Beside it, `FILE.truth.json` holds the final totals per `{election_id}/{race_id}/{state}/{mode}`
as the generator made them, to check a worker's output against, and the dead letters it must
make (`malformed_records`: malformed records, elements and race entries). The same seed gives
the same file, byte for byte, whatever `--jobs`, and the same truth file however packed:
packing changes the records, not the night.

Speed: states are made in parallel processes (`--jobs`, default one per CPU), each from its
own seeded generator; the parent merges their time-sorted lines and writes them on a thread
(gzip at level 1, compressed on every core). The us preset's ~1M reports (~150,000 records:
~124,000 on-time batches, ~20,000 late ones, ~5,000 broken ones at --malformed 0.01; ~1M records
with `--single`) take well under ten seconds on two cores (`bench/bench_simulate.py`), batched a
little less than single; `.jsonl` is a little faster than `.jsonl.gz`.
"""

from __future__ import annotations

import argparse
import gzip
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from streams import contract
from streams.contract.recording import replaced_on_success
from streams.geo.geography import STATE_BY_POSTAL, STATES, State
from streams.model.baselines import BASELINES
from streams.progress import Progress
from streams.simulation.ballot import Race, parse_targets, races_for
from streams.simulation.calls import with_call_rules
from streams.simulation.downballot import down_ballot_races
from streams.simulation.lines import Lines
from streams.simulation.malformed import ALL_KIND_NAMES
from streams.simulation.night import NightOutput, Options, simulate_state
from streams.simulation.places import county_codes
from streams.simulation.spill import SpilledLines, simulate_state_spilled


@dataclass(frozen=True)
class Preset:
    states: tuple[str, ...]  # empty: all 51
    max_counties: int | None  # None: real county counts
    precinct_scale: float  # share of the real precinct count
    senate: bool = True
    down_ballot: bool = False  # House, governors, legislatures, measures, county contests
    spill: bool = False  # too big for memory: states go to files, merged as written (simulation.spill)


SWING_STATES = ("AZ", "GA", "MI", "NV", "PA", "WI", "NC")
PRESETS = {
    # ~178,000 precincts in ~3,150 counties, president everywhere, 33 senate races: ~1M reports.
    "us": Preset((), None, 1.0),
    "small": Preset(("AZ", "GA", "MI", "NV", "PA", "WI", "CA"), None, 0.05),
    "tiny": Preset(("DE", "NH"), 3, 0.05),
    # DE and Georgia (whose general elections need a majority): with --calls, a runoff to call.
    "tiny-ga": Preset(("DE", "GA"), 3, 0.05),
    # The whole ballot (streams.simulation.downballot): the us preset's places, ~18 contests a
    # precinct, ~10M reports; and scaled-down forms of it for benchmarks and tests.
    "full": Preset((), None, 1.0, down_ballot=True, spill=True),
    "full-small": Preset(SWING_STATES, None, 0.1, down_ballot=True),
    "full-tiny": Preset(("DE", "NH"), 3, 0.05, down_ballot=True),
}


def layout(preset: Preset) -> Iterator[tuple[State, int, int]]:
    """(state, counties, precincts) for each state of the preset, in a fixed order."""
    for state in (tuple(STATE_BY_POSTAL[s] for s in preset.states) if preset.states else STATES):
        counties = min(state.counties, preset.max_counties or state.counties)
        yield state, counties, max(counties, round(state.precincts * preset.precinct_scale))


def build_night(args: argparse.Namespace, progress: Progress, spill: Path | None = None) -> NightOutput:
    """All states' nights, made in `args.jobs` processes (states are independent), added up in
    the preset's order: the same bytes whatever the number of processes. With `spill`, each
    state's lines go to a file there and only its counts and truth come back."""
    preset, targets = PRESETS[args.preset], parse_targets(args.target)
    states = [state for state, _, _ in layout(preset)]
    options = Options(args.election_id, args.mode, args.malformed, args.duplicates, args.out_of_order,
                      args.corrections, batch_window_ms=None if args.single else args.batch_window * 1000,
                      per_race=args.per_race, max_batch_bytes=MAX_BATCH_BYTES,
                      baseline=args.baseline, calls=args.calls,
                      retraction_state=states[0].postal if args.calls else None)
    day_ms = int(datetime.fromisoformat(args.election_id).replace(tzinfo=UTC).timestamp() * 1000)
    jobs = [(args.seed, options, state, ballot(preset, state, counties, precincts, targets, args.calls), counties,
             precincts, day_ms) for state, counties, precincts in layout(preset)]
    night = NightOutput(Lines(day_ms) if spill is None else SpilledLines(day_ms))
    for done, part in enumerate(made_in_order(jobs, args.jobs, spill)):
        night.add(part)
        progress.update(len(night.out), 0.5 * (done + 1) / len(jobs), f"generated {jobs[done][2].postal}")
    return night


def ballot(preset: Preset, state: State, counties: int, precincts: int,
           targets: dict[tuple[str, str], dict[str, float]], calls: bool = False) -> list[Race]:
    races = races_for(state, preset.senate, targets)
    if preset.down_ballot:
        races += down_ballot_races(state, county_codes(state, counties), precincts)
    return with_call_rules(state, races, county_codes(state, counties)) if calls else races


# The contract's record limit; a test lowers it to see polls and batches split.
MAX_BATCH_BYTES = contract.MAX_PAYLOAD_BYTES

StateJob = tuple[int, Options, State, list[Race], int, int, int]  # simulate_state's arguments


def made_in_order(jobs: list[StateJob], processes: int, spill: Path | None = None) -> Iterator[NightOutput]:
    """`simulate_state(*job)` for each job, in order; with processes > 1 the biggest states are
    started first, so that no process is left with California at the end. With `spill`, the
    state's lines are written to a file there instead (`simulate_state_spilled`)."""
    def make(i: int) -> tuple[Any, ...]:
        return (simulate_state, *jobs[i]) if spill is None else (simulate_state_spilled, spill / f"{i:03d}.jsonl",
                                                                 *jobs[i])

    if processes <= 1:
        yield from (call(*args) for call, *args in map(make, range(len(jobs))))
        return
    with ProcessPoolExecutor(max_workers=processes) as pool:
        by_size = sorted(range(len(jobs)), key=lambda i: -jobs[i][5] * len(jobs[i][3]))
        futures = {i: pool.submit(*make(i)) for i in by_size}
        for i in range(len(jobs)):
            yield futures.pop(i).result()


# gzip level 1: ~3x faster than the default 6 at a 9% instead of 6% ratio on these lines. The
# file is cut into independent gzip members (valid gzip; `gzip`, `zcat` and the replay read
# them as one stream) so that every core compresses: zlib releases the GIL. Fixed cut points,
# mtime 0 and no file name keep the bytes the same for the same night.
GZIP_LEVEL = 1
CHUNK_LINES = 50_000


def gzip_members(blobs: Iterator[bytes]) -> Iterator[bytes]:
    """Each blob as a gzip member, compressed on a thread pool, in order, a few in flight."""
    workers = os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[bytes]] = deque()
        for blob in blobs:
            pending.append(pool.submit(gzip.compress, blob, GZIP_LEVEL, mtime=0))
            if len(pending) > 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def write_night(night: NightOutput, path: Path, progress: Progress) -> int:
    """Writes the lines in time order. The file is written on a thread (a write releases the
    GIL) while the next chunk is put together."""
    records, chunks = len(night.out), night.out.in_time_order(CHUNK_LINES)
    # Written beside `path` and renamed into place at the end: a failure leaves no half a night.
    with replaced_on_success(path) as partial, open(partial, "wb") as f, ThreadPoolExecutor(max_workers=1) as writer:
        written: Future[int] | None = None
        for done, blob in enumerate(gzip_members(chunks) if path.suffix == ".gz" else chunks, start=1):
            if written is not None:
                written.result()
            written = writer.submit(f.write, blob)
            progress.update(min(records, done * CHUNK_LINES), 0.5 + 0.5 * min(1.0, done * CHUNK_LINES / records),
                            "writing")
    return records


def write_truth(night: NightOutput, args: argparse.Namespace) -> Path:
    """The night, not its packing: the same file polled, `--per-race` or `--single` (so no record count)."""
    path = Path(f"{args.out}.truth.json")
    truth = {"preset": args.preset, "seed": args.seed, "reports": night.out.report_count,
             "malformed_records": night.out.malformed_count, "malformed_kinds": ALL_KIND_NAMES,
             "races": dict(sorted(night.truth.items()))}
    path.write_bytes(orjson.dumps(truth, option=orjson.OPT_INDENT_2) + b"\n")
    return path


def write_baselines(night: NightOutput, out: Path) -> Path:
    """`FILE.baseline.jsonl`: each race's previous election as a `baseline/1` recording line, ready
    for `votewire replay` (topic `baselines`, keyed like the race)."""
    path = Path(f"{out}.baseline.jsonl")
    with path.open("wb") as f:
        for key, value in sorted(night.baselines.items()):
            ts_ms = contract.parse_time_ms(value["issued_at"], "issued_at")
            f.write(orjson.dumps({"ts": ts_ms, "topic": BASELINES, "key": key, "value": value}) + b"\n")
    return path

