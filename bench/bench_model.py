"""Cost of one run of the model of the vote still out on a big race.

    .venv/bin/python bench/bench_model.py                  # 3,000 counties, 4 candidates, half in
    .venv/bin/python bench/bench_model.py --units 24000    # California by precinct

The worker will run the model per race when its figures change, at most once per publish
interval (phase 2 of issue 20); this says what one run costs. The race is synthetic: units of
lognormal size with a baseline, each reported unit's turnout and shares moved from it by a
little noise, `--reported` of them fully in and a tenth of the rest partly counted.
Prints the machine and the command with the figure; never asserted in tests.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shlex
import statistics
import sys
import time

from streams.model.baselines import UnitBaseline
from streams.model.estimate import Projection, UnitCount, project

PARTIES = {"harris": "DEM", "trump": "REP", "oliver": "LIB", "stein": "GRN"}


def race(units: int, reported: float, seed: int) -> tuple[dict[str, UnitBaseline], list[UnitCount]]:
    rng = random.Random(seed)
    baseline, counts = {}, []
    for i in range(units):
        total = int(rng.lognormvariate(9, 1.2)) + 10
        dem = rng.uniform(0.2, 0.75)
        baseline[f"u{i}"] = UnitBaseline(total, {"DEM": round(total * dem), "REP": round(total * (0.97 - dem))})
        now = total * rng.gauss(1.02, 0.05)
        share = dem + rng.gauss(-0.015, 0.02)
        votes = {"harris": round(now * share), "trump": round(now * (0.97 - share)), "oliver": round(now * 0.02),
                 "stein": round(now * 0.01)}
        draw = rng.random()
        if draw < reported:
            counts.append(UnitCount(f"u{i}", votes, True))
        elif draw < reported + 0.1 * (1 - reported):
            counts.append(UnitCount(f"u{i}", {c: v // 2 for c, v in votes.items()}, False))
    return baseline, counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=3000)
    parser.add_argument("--reported", type=float, default=0.5, help="share of units fully in (default 0.5)")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    baseline, counts = race(args.units, args.reported, seed=1)
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        result = project(counts, PARTIES, baseline)
        times.append(time.perf_counter() - started)
    assert isinstance(result, Projection)
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}")
    print(f"{args.units:,} units ({result.units_used:,} in, {result.units_outstanding:,} outstanding), "
          f"{len(PARTIES)} candidates: median {1000 * statistics.median(times):.1f} ms per run, "
          f"fastest {1000 * min(times):.1f} ms over {args.runs} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
