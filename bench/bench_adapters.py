"""Records per second of each source adapter on the real fixtures (tests/fixtures).

    .venv/bin/python bench/bench_adapters.py [--repeat 20]

Each adapter reads its files `--repeat` times (a fresh `records()` each time, as a new
`votewire ingest` would) and the figure is records out per wall-clock second; CPU seconds are
printed too, since a shared machine's wall clock says as much about the neighbours.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from types import ModuleType

from streams.adapters import ap, clarity, openelections

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
CASES: list[tuple[str, ModuleType, list[str]]] = [
    ("ap (MA primaries, 704 units)", ap, [str(FIXTURES / "ap" / "20160301_super_tuesday.json")]),
    ("clarity (AR by county)", clarity, [str(FIXTURES / "clarity" / "county.xml")]),
    ("clarity (KY by precinct)", clarity,
     [str(FIXTURES / "clarity" / "precinct.xml"), "--state", "KY", "--county", "21089"]),
    ("openelections (DE 2016 precincts)", openelections,
     [str(FIXTURES / "openelections" / "20161108__de__general__precinct.csv")]),
]


def measure(module: ModuleType, argv: list[str], repeat: int) -> tuple[int, float, float]:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    args = parser.parse_args(argv)
    count, wall, cpu = 0, time.perf_counter(), time.process_time()
    for _ in range(repeat):
        count += sum(1 for _ in module.records(args))
    return count, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    opts = argparse.ArgumentParser(description=__doc__)
    opts.add_argument("--repeat", type=int, default=20)
    repeat = opts.parse_args().repeat
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}")
    for name, module, argv in CASES:
        count, wall, cpu = measure(module, argv, repeat)
        print(f"{name:36s} {count:>8,} records  {count / wall:>10,.0f} records/s  "
              f"({count / cpu:,.0f}/CPU-s)")


if __name__ == "__main__":
    main()
