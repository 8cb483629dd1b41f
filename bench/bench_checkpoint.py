"""CPU seconds of encoding every partition's checkpoint (streams.worker.checkpoint) of a simulated
night's whole state, in one process: the encoder that keeps each tally's encoded entry against
the one that encoded every unit at every write (tests/support/checkpoint_reference.py), side by
side in one run, the least of `--repeat` runs each, and their bytes compared.

    .venv/bin/python bench/bench_checkpoint.py                       # full-small, seed 11
    .venv/bin/python bench/bench_checkpoint.py --preset us
    .venv/bin/python bench/bench_checkpoint.py --night night.jsonl.gz

The room is built as a worker's rebuild builds it (`CountingRoom.replay_report`, Kafka time from
the night's record times), then encoded: cold (no entry kept yet), unchanged since the last write,
after a report in 1% of the tallies, and after a report in every tally (a catch-up's round).
CPU time (`time.process_time`), so that a figure means something on a busy machine; still rough
on a shared one: compare the two encoders of one run, not runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import random
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import machine, simulate
from streams import contract
from streams.counting.room import CountingRoom
from streams.counting.tally import RaceTally
from streams.kafka.topic_ids import LogIdentity
from streams.kafka.topics import home_partition
from streams.worker.checkpoint import encode_checkpoint
from tests.support.checkpoint_reference import encode_every_unit

Encoder = Callable[[LogIdentity, dict[str, int], Iterable[RaceTally]], bytes]
IDENTITY = LogIdentity("bench", "votewire", (("precinct-results", "id", 4),))


def rebuilt_room(night: Path) -> CountingRoom:
    room = CountingRoom()
    with gzip.open(night, "rb") as lines:
        for line in lines:
            row = orjson.loads(line)
            if row["topic"] == "precinct-results":
                for report in contract.decode_precinct_record(orjson.dumps(row["value"])).reports:
                    room.replay_report(report, row["ts"])
    return room


def partitions_of(room: CountingRoom, partitions: int) -> list[list[RaceTally]]:
    held: list[list[RaceTally]] = [[] for _ in range(partitions)]
    for key, tally in room.tallies.items():
        held[home_partition(key.home, partitions)].append(tally)
    return held


def touch(tallies: Iterable[RaceTally]) -> None:
    """A unit's next report in each tally (its seq up by one): a change its entry must show."""
    for tally in tallies:
        precinct_id, unit = next(tally.units())
        tally.restore(precinct_id, dataclasses.replace(unit, seq=unit.seq + 1))


def least(repeat: int, prepare: Callable[[], None], encode: Encoder, held: list[list[RaceTally]]) -> float:
    best = float("inf")
    for _ in range(repeat):
        prepare()
        began = time.process_time()
        for tallies in held:
            encode(IDENTITY, {"precinct-results": 0}, tallies)
        best = min(best, time.process_time() - began)
    return best


def compare(room: CountingRoom, held: list[list[RaceTally]], repeat: int) -> None:
    tallies = list(room.tallies.values())
    some = random.Random(1).sample(tallies, max(1, len(tallies) // 100))

    def forget_entries() -> None:
        for tally in tallies:
            tally.encoded = None

    rounds: list[tuple[str, Callable[[], None]]] = [
        ("cold", forget_entries), ("unchanged", lambda: None),
        (f"1% touched ({len(some):,} tallies)", lambda: touch(some)), ("all touched", lambda: touch(tallies))]
    for name, prepare in rounds:
        every_unit = least(repeat, prepare, encode_every_unit, held)
        kept = least(repeat, prepare, encode_checkpoint, held)
        same = all(encode_checkpoint(IDENTITY, {}, t) == encode_every_unit(IDENTITY, {}, t) for t in held)
        print(f"{name:<30} every unit {every_unit:7.3f} s   kept entries {kept:7.3f} s   "
              f"every unit / kept {every_unit / kept:6.1f}x   same bytes: {same}", flush=True)
        if not same:
            raise SystemExit("the encoders wrote different bytes")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--night", type=Path, help="a simulated night (.jsonl.gz); default: simulate --preset")
    parser.add_argument("--preset", default="full-small", help="the night to simulate when --night is not given")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each encoding; the least counts")
    args = parser.parse_args()
    print(f"command: {shlex.join(['python', 'bench/bench_checkpoint.py', *sys.argv[1:]])}")
    print(f"machine: {machine()}, python {sys.version.split()[0]}")
    if args.night is not None:
        room = rebuilt_room(args.night)
    else:
        with tempfile.TemporaryDirectory(prefix="votewire-checkpoint-") as tmp:
            room = rebuilt_room(simulate(args.preset, Path(tmp) / "night.jsonl.gz", seed=11).recording)
    held = partitions_of(room, args.partitions)
    size = sum(len(encode_checkpoint(IDENTITY, {}, tallies)) for tallies in held)
    units = sum(1 for tally in room.tallies.values() for _ in tally.units())
    print(f"state: {len(room.tallies):,} tallies, {units:,} units on {args.partitions} partitions, "
          f"{size / 1e6:.1f} MB of checkpoints (what the kept entries hold)")
    compare(room, held, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
