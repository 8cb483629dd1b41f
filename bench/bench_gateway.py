"""Benchmark: how many readout requests a second one gateway process answers on loopback.

Starts a gateway (no Kafka: snapshots are loaded straight into its read model) with every
state's presidential race plus two more races per state, then runs `wrk` for ~10 s against
`/v1/results/2024-11-05/president/MN/readout`. Prints requests/s, latency, the exact command
and the machine. Usage: .venv/bin/python bench/bench_gateway.py [--seconds 10] [--connections 64]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.gateway.live import LiveResults
from streams.gateway.server import start_gateway
from streams.localkafka.kafka_local import free_port
from tests.support.examples import state_result

STATES = (
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
    "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC",
    "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY",
)
PATH = "/v1/results/2024-11-05/president/MN/readout"


def loaded_results() -> LiveResults:
    live = LiveResults()
    for state in STATES:
        for race in ("president", "us-senate", "us-house-1"):
            for version in (1, 2, 3):
                live.ingest("state", state_result(state, version, race=race))
    live.mark_ready()
    return live


def serve_in_background(live: LiveResults, port: int) -> threading.Event:
    started = threading.Event()

    def main() -> None:
        async def forever() -> None:
            await start_gateway(live, f"127.0.0.1:{port}")
            started.set()
            await asyncio.Event().wait()

        asyncio.run(forever())

    threading.Thread(target=main, daemon=True, name="gateway").start()
    return started


async def check(url: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        resp.raise_for_status()
        return (await resp.text()).strip()


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown cpu")
    return (f"{platform.node()}: {model}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, aiohttp {aiohttp.__version__}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk not found: run deploy/install-system-deps.sh", file=sys.stderr)
        return 2
    port = free_port()
    live = loaded_results()
    if not serve_in_background(live, port).wait(10):
        print("gateway did not start", file=sys.stderr)
        return 1
    url = f"http://127.0.0.1:{port}{PATH}"
    print(f"readout: {asyncio.run(check(url))}")
    command = [wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds}s", "--latency", url]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=args.seconds + 30).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    print(out)
    print(f"command: {' '.join(command)}")
    print(f"machine: {machine()}")
    print(f"snapshots held: {live.store.count('state')}; gateway: one process, one event loop")
    print(f"result: {float(rps.group(1)) if rps else float('nan'):.0f} requests/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
