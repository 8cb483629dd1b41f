"""CPU seconds of the worker's per-record work (decode, then apply each report with its alerts),
in one process, over a simulated night: the cyclic garbage collector as it is, against the
worker's tending of it (streams.worker.collector).

    .venv/bin/python bench/bench_hot_path.py                     # the us night (~1M reports)
    .venv/bin/python bench/bench_hot_path.py --preset small
    .venv/bin/python bench/bench_hot_path.py --night night.jsonl.gz --gc tended
    .venv/bin/python bench/bench_hot_path.py --preset full-small --past-polls-close

Without a Kafka time every live race stays under embargo, as in `make bench`'s no-durability
loop, so no alert is worked out; `--past-polls-close` times every record after the last
polls close, as a worker sees a night replayed today: its race alerts are worked out too.

CPU time (`time.process_time`), not wall time, so that a figure holds on a busy machine too;
GC seconds are timed with `gc.callbacks`. `--tick-records` stands for the worker's 2-s tick:
about the records a worker takes in two seconds of a catch-up.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import machine
from streams import contract
from streams.counting.room import CountingRoom
from streams.worker.collector import CollectorTending


def load(path: Path) -> tuple[CountingRoom, list[bytes]]:
    room, records = CountingRoom(), []
    with gzip.open(path, "rb") as lines:
        for line in lines:
            row = orjson.loads(line)
            value = orjson.dumps(row["value"])
            if row["topic"] == "precinct-results":
                records.append(value)
            elif row["topic"] == "race-definitions":
                room.book.put_definition(contract.decode_race_definition(value))
            elif row["topic"] == "expected-votes":
                room.book.put_expected(contract.decode_expected_vote(value))
    return room, records


def run(room: CountingRoom, records: list[bytes], tended: bool, tick_records: int,
        kafka_ms: int | None = None) -> dict[str, float]:
    in_gc = [0.0, 0.0]  # seconds so far, start of the current collection

    def timed(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            in_gc[1] = time.perf_counter()
        else:
            in_gc[0] += time.perf_counter() - in_gc[1]

    tending = CollectorTending()
    gc.collect()
    gc.callbacks.append(timed)
    reports = 0
    began = time.process_time()
    try:
        for i, value in enumerate(records):
            record = contract.decode_precinct_record(value)
            room.apply_record(record.reports, kafka_ms)
            reports += len(record.reports)
            if tended and i % tick_records == 0:
                tending.tick(busy=True)
        cpu = time.process_time() - began
    finally:
        gc.callbacks.remove(timed)
        gc.unfreeze()
    return {"records": len(records), "reports": reports, "cpu_seconds": round(cpu, 2),
            "gc_seconds": round(in_gc[0], 2), "us_per_report": round(cpu / reports * 1e6, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--night", type=Path, help="a simulated night (.jsonl.gz); default: simulate --preset")
    parser.add_argument("--preset", default="us", help="the night to simulate when --night is not given")
    parser.add_argument("--gc", choices=["as-is", "tended", "both"], default="both")
    parser.add_argument("--tick-records", type=int, default=6000)
    parser.add_argument("--past-polls-close", action="store_true",
                        help="Kafka times every record after the last polls close (race alerts worked out)")
    args = parser.parse_args()
    print(f"command: {shlex.join(['python', 'bench/bench_hot_path.py', *sys.argv[1:]])}")
    print(f"machine: {machine()}, python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="votewire-hot-") as tmp:
        night = args.night
        if night is None:
            night = Path(tmp) / "night.jsonl.gz"
            subprocess.run([sys.executable, "-m", "streams.cli", "simulate", "--preset", args.preset, "--seed", "1",
                            "--out", str(night)], check=True, stdout=subprocess.DEVNULL)
        for mode in (["as-is", "tended"] if args.gc == "both" else [args.gc]):
            room, records = load(night)  # a fresh room each time: the same work for both
            kafka_ms = None
            if args.past_polls_close:
                kafka_ms = max((d.polls_close_ms for d in room.book.definitions.values()), default=0) + 1
            figures = run(room, records, mode == "tended", args.tick_records, kafka_ms)
            print(mode, orjson.dumps(figures).decode(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
