"""`make bench`: every benchmark in turn, each printing its command, machine and figures.

The end-to-end worker benchmark runs the `small` preset here; the national night is
`.venv/bin/python bench/bench_worker.py --preset us` (several minutes).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [
    ["bench_contract.py"],
    ["bench_tally.py"],
    ["bench_simulate.py"],
    ["bench_adapters.py"],
    ["bench_replay.py", "--runs", "1"],
    ["bench_gateway.py"],
    ["bench_worker.py", "--preset", "small"],
]


def main() -> int:
    failed = []
    for bench in BENCHES:
        print(f"\n== {' '.join(bench)}", flush=True)
        if subprocess.run([sys.executable, str(HERE / bench[0]), *bench[1:]], check=False).returncode != 0:
            failed.append(bench[0])
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
