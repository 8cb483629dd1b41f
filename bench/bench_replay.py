"""How fast `votewire replay --max` pushes records into a real broker.

Two inputs: the bundled Minnesota night (1,233 records: too short to be more than a latency
figure) and a synthetic 200,000-line file of precinct reports across 100 race/state keys.
Each run replays into a fresh topic prefix (so topic creation is in the figure, as it is for
a user). The broker is a local single node started on a free port in a temporary directory,
or the one named by VOTEWIRE_BENCH_BOOTSTRAP.

    .venv/bin/python bench/bench_replay.py [--lines 200000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiokafka
import orjson

from streams.kafka.replay import replay_files
from streams.localkafka import kafka_local
from streams.settings import Settings

BUNDLED = Path(__file__).resolve().parent.parent / "streams" / "data" / "mn-2024-general.jsonl.gz"
STATES = ["AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY",
          "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND",
          "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY"]


def write_synthetic(path: Path, lines: int) -> None:
    """Precinct reports like a busy night's: ~300 bytes each, 2 races x 50 states, keyed by state."""
    with open(path, "wb") as f:
        for i in range(lines):
            state, race = STATES[i % 50], ("president", "senate")[i // 50 % 2]
            value = {"schema": "precinct-result/1", "election_id": "2024-11-05", "race_id": race, "state": state,
                     "county_fips": "27053", "precinct_id": f"{state}-{i % 5000:05d}", "seq": i // 5000,
                     "reported_at": "2024-11-06T03:00:00Z", "votes": {"harris": i % 900, "trump": i % 700},
                     "complete": False, "mode": "live", "precincts_reporting": 1, "precincts_total": 3}
            line = {"ts": 1730862000000 + i, "topic": "precinct-results", "key": f"2024-11-05/{state}",
                    "value": value}
            f.write(orjson.dumps(line) + b"\n")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, aiokafka {aiokafka.__version__}")


@contextlib.contextmanager
def broker(tmp: Path) -> Iterator[str]:
    given = os.environ.get("VOTEWIRE_BENCH_BOOTSTRAP")
    if given:
        yield given
        return
    settings = Settings.from_env({}, bootstrap=f"127.0.0.1:{kafka_local.free_port()}", data_dir=str(tmp / "kafka"))
    local = kafka_local.LocalBroker(settings)
    kafka_local.start(local)
    try:
        yield local.bootstrap
    finally:
        kafka_local.stop(local)


def bench(bootstrap: str, path: Path, runs: int) -> list[float]:
    rates = []
    for _ in range(runs):
        settings = Settings.from_env({}, bootstrap=bootstrap, topic_prefix=f"bench{uuid.uuid4().hex[:8]}.")
        stats = asyncio.run(replay_files(settings, [path], speed=None, max_gap=None, progress=False))
        assert stats.bad_lines == 0
        print(f"  {path.name}: {stats.summary()}")
        rates.append(stats.rate)
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=200_000, help="synthetic file size (default 200000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per file (default 3)")
    args = parser.parse_args()
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="votewire-bench-") as tmp_name:
        tmp = Path(tmp_name)
        synthetic = tmp / "synthetic.jsonl"
        started = time.monotonic()
        write_synthetic(synthetic, args.lines)
        print(f"synthetic file: {args.lines:,} lines, {synthetic.stat().st_size / 1e6:.1f} MB "
              f"(written in {time.monotonic() - started:.1f} s)")
        with broker(tmp) as bootstrap:
            print(f"broker: {bootstrap}, 4 partitions per topic, acks=all")
            results = {name: bench(bootstrap, path, args.runs) for name, path in
                       (("bundled MN night", BUNDLED), (f"synthetic {args.lines:,}", synthetic))}
    for name, rates in results.items():
        print(f"replay --max, {name}: best {max(rates):,.0f} records/s, median {sorted(rates)[len(rates) // 2]:,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
