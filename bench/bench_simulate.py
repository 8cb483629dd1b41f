"""Reports per second of `votewire simulate` (default: the national `us` preset, batched).

    .venv/bin/python bench/bench_simulate.py [--preset us] [--single] [--out /tmp/votewire-bench.jsonl]

Runs the verb as the command line would, then prints records (batches, or one per report with
`--single`), precinct reports, wall and CPU seconds (this process and the worker processes
that make states in parallel), reports per second, and the machine (a shared machine's load
is printed, as it moves the wall clock).
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import orjson

from streams.cli import main as votewire


def cpu_seconds() -> float:
    """User and system CPU of this process and its finished children (the state workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main() -> None:
    opts = argparse.ArgumentParser(description=__doc__)
    opts.add_argument("--preset", default="us")
    opts.add_argument("--seed", default="1")
    opts.add_argument("--malformed", default="0.01")
    opts.add_argument("--jobs", default=str(os.cpu_count() or 1), help="processes (default: the number of CPUs)")
    opts.add_argument("--single", action="store_true", help="one record per report instead of batches")
    opts.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "votewire-bench.jsonl")
    args = opts.parse_args()
    argv = ["simulate", "--preset", args.preset, "--seed", args.seed, "--malformed", args.malformed,
            "--jobs", args.jobs, "--out", str(args.out), *(["--single"] if args.single else [])]
    print(f"command: votewire {' '.join(argv)}")
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}")
    wall, cpu = time.perf_counter(), cpu_seconds()
    if votewire(argv) != 0:
        sys.exit("simulate failed")
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    reports = orjson.loads(Path(f"{args.out}.truth.json").read_bytes())["reports"]
    print(f"{count_records(args.out):,} records ({reports:,} precinct reports), "
          f"{args.out.stat().st_size / 1e6:,.0f} MB in {wall:.1f} s wall, {cpu:.1f} s CPU: "
          f"{reports / wall:,.0f} reports/s ({reports / cpu:,.0f}/CPU-s), peak memory {peak_mb:,.0f} MB (this process)")


def count_records(path: Path) -> int:
    """Lines in the recording (counted after the clock stops; the truth file has no record count,
    as it is the same batched or not)."""
    with (gzip.open(path) if path.suffix == ".gz" else open(path, "rb")) as f:
        return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))


if __name__ == "__main__":
    main()
