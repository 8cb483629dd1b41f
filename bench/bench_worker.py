"""End to end: how long a worker takes to turn a recorded night into exact final snapshots.

Simulates a night (or takes a recording and its truth file), starts a `votewire worker` on a
fresh topic prefix, replays the recording with `--max`, and waits until every race/state in
the truth has a `state-results` snapshot equal to it (total, every candidate, precincts
reporting). Prints: records, replay seconds, seconds from the first record sent to the last
exact snapshot, records/s end to end, the worker's peak memory (VmHWM), and as a yardstick
how long a bare aiokafka consumer takes to read the same precinct-results topic.

    .venv/bin/python bench/bench_worker.py --preset small
    .venv/bin/python bench/bench_worker.py --preset us          # ~1M records, several minutes
    .venv/bin/python bench/bench_worker.py --file night.jsonl.gz --truth night.jsonl.gz.truth.json

The broker: a local single node on a free port in a temporary directory, or the one named by
VOTEWIRE_BENCH_BOOTSTRAP (the same as bench_replay.py's).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_replay import broker, machine
from streams.kafka.replay import replay_files
from streams.kafka.topics import topic_partitions
from streams.localkafka import kafka_local
from streams.settings import Settings


def simulate(preset: str, out: Path) -> tuple[Path, Path]:
    subprocess.run([sys.executable, "-m", "streams.cli", "simulate", "--preset", preset, "--seed", "1",
                    "--malformed", "0.01", "--out", str(out)], check=True)
    return out, Path(f"{out}.truth.json")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def read_to_end(settings: Settings, topic: str) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", max_partition_fetch_bytes=8 << 20)
    await consumer.start()
    try:
        tps = await topic_partitions(consumer, topic)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[Any] = []
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            for messages in (await consumer.getmany(timeout_ms=1000, max_records=10000)).values():
                out.extend(messages)
        return out
    finally:
        await consumer.stop()


def matches(truth: dict[str, Any], messages: list[Any]) -> int:
    """How many truth keys the latest snapshots equal."""
    latest: dict[str, dict[str, Any]] = {}
    for m in messages:
        snap = orjson.loads(m.value)
        key = m.key.decode()
        if key not in latest or snap["version"] >= latest[key]["version"]:
            latest[key] = snap
    good = 0
    for key, want in truth.items():
        got = latest.get(key)
        if got is not None and got["total_votes"] == want["total_votes"] and \
                got["precincts_reporting"] == want["precincts_reporting"] and \
                {c["candidate_id"]: c["votes"] for c in got["candidates"] if c["votes"]} == \
                {c: n for c, n in want["votes"].items() if n}:
            good += 1
    return good


async def bare_consumer_seconds(settings: Settings) -> tuple[float, int]:
    began = time.perf_counter()
    records = await read_to_end(settings, settings.topic("precinct-results"))
    return time.perf_counter() - began, len(records)


def run(args: argparse.Namespace, tmp: Path) -> None:
    recording, truth_path = (args.file, args.truth) if args.file else simulate(args.preset, tmp / "night.jsonl.gz")
    truth = orjson.loads(truth_path.read_bytes())["races"]
    with broker(tmp) as bootstrap:
        tag = uuid.uuid4().hex[:8]
        settings = Settings.from_env({}, bootstrap=bootstrap, topic_prefix=f"bench{tag}.", app_id=f"bench-{tag}",
                                     data_dir=str(tmp / "worker"), partitions=args.partitions)
        workers = [start_worker(settings, tmp, i) for i in range(args.workers)]
        try:
            for worker, log in workers:
                while "[^Worker]: Ready" not in log.read_text(errors="replace"):
                    if worker.poll() is not None:
                        raise SystemExit(f"worker exited; see {log}")
                    time.sleep(0.2)
            report(args, settings, recording, truth, [w for w, _ in workers])
        finally:
            for worker, _ in workers:
                worker.terminate()
                worker.wait(timeout=60)


def start_worker(settings: Settings, tmp: Path, index: int) -> tuple[subprocess.Popen[bytes], Path]:
    """One `votewire worker` of the group (same app id: they share the partitions)."""
    env = {**os.environ, "VOTEWIRE_BOOTSTRAP": settings.bootstrap, "VOTEWIRE_TOPIC_PREFIX": settings.topic_prefix,
           "VOTEWIRE_APP_ID": settings.app_id, "VOTEWIRE_DATA_DIR": f"{settings.data_dir}-{index}",
           "VOTEWIRE_PARTITIONS": str(settings.partitions),
           "VOTEWIRE_WORKER_WEB_ADDR": f"127.0.0.1:{kafka_local.free_port()}"}
    log = tmp / f"worker{index}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker"], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    return proc, log


def report(args: argparse.Namespace, settings: Settings, recording: Path, truth: dict[str, Any],
           workers: list[subprocess.Popen[bytes]]) -> None:
    began = time.perf_counter()
    stats = asyncio.run(replay_files(settings, [recording], speed=None, max_gap=None, progress=False))
    replayed = time.perf_counter() - began
    good = 0
    while good < len(truth) and time.perf_counter() - began < args.deadline:
        time.sleep(2)
        good = matches(truth, asyncio.run(read_to_end(settings, settings.topic("state-results"))))
    exact = time.perf_counter() - began
    bare_s, bare_n = asyncio.run(bare_consumer_seconds(settings))
    print(f"command: {' '.join(sys.argv)}")
    print(f"machine: {machine()}")
    print(f"records: {stats.sent:,} ({bare_n:,} precinct-results), partitions {args.partitions}, "
          f"workers {len(workers)}")
    print(f"replay --max: {replayed:.1f} s ({stats.sent / replayed:,.0f} records/s)")
    print(f"exact final snapshots: {good}/{len(truth)} race/states after {exact:.1f} s from the first record "
          f"({stats.sent / exact:,.0f} records/s end to end)")
    print(f"worker peak memory (VmHWM): {', '.join(f'{peak_rss_mib(w.pid):,.0f}' for w in workers)} MiB")
    print(f"yardstick, bare aiokafka consumer over precinct-results: {bare_s:.1f} s ({bare_n / bare_s:,.0f} records/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="small", choices=["tiny", "small", "us"])
    parser.add_argument("--file", type=Path, help="a recording instead of a simulated night (needs --truth)")
    parser.add_argument("--truth", type=Path, help="truth file for --file")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1, help="worker processes sharing the partitions")
    parser.add_argument("--deadline", type=float, default=1800.0, help="seconds to wait for exact snapshots")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="votewire-bench-") as tmp:
        run(args, Path(tmp))


if __name__ == "__main__":
    main()
