"""The demo (`votewire demo`): the whole pipeline on one machine, replaying the bundled Minnesota night.

Starts (or reuses) the local broker, a worker and a gateway as child processes under a fresh
topic prefix, replays `streams/data/mn-2024-general.jsonl.gz` with long gaps squeezed, and
prints each new Minnesota readout as the worker publishes it. Ctrl-C stops everything it
started, and only that.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson

from streams import contract
from streams.errors import ConfigError, SetupError
from streams.kafka.clients import kafka_client
from streams.kafka.replay import check_files, replay_files
from streams.kafka.topics import ensure_topics
from streams.localkafka import kafka_local
from streams.localkafka.running_demo import RunningDemo, announced
from streams.settings import Settings

BUNDLED_NIGHT = Path(__file__).resolve().parents[1] / "data" / "mn-2024-general.jsonl.gz"



def run_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Broker (unless one answers), worker and gateway, the bundled night replayed; 0 when done."""
    check_arguments(args)  # before anything starts
    settings = settings.with_(topic_prefix=settings.topic_prefix or f"demo{int(time.time())}.")
    broker = kafka_local.LocalBroker(settings)
    started_broker = False
    try:
        if asyncio.run(kafka_local.metadata_ready(settings)):
            print(f"using the Kafka broker at {settings.bootstrap}", flush=True)  # someone's: left running
        else:
            started_broker = True  # before it starts: a Ctrl-C during its start-up stops it too
            print(kafka_local.start(broker), flush=True)
        with children(settings) as gateway_url, announced(settings, gateway_url) as demo:
            print(f"board: {gateway_url}/   (topic prefix {settings.topic_prefix})", flush=True)
            print(f"watch it in another terminal: {watch_command(demo)}", flush=True)
            final = asyncio.run(replay_and_watch(settings, args))
            print(f"final readouts:\n{final}", flush=True)
            if not args.exit_when_done:
                print("serving the board; Ctrl-C stops the worker, the gateway and the broker it started", flush=True)
                _wait_forever()
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
    finally:
        if started_broker:
            print(kafka_local.stop(broker), flush=True)
    return 0


def check_arguments(args: argparse.Namespace) -> None:
    check_files([args.file])
    if args.speed <= 0 or args.max_gap < 0:
        raise ConfigError(f"--speed {args.speed} must be > 0 and --max-gap {args.max_gap} at least 0")


def watch_command(demo: RunningDemo) -> str:
    """The exact `votewire watch` for this demo (a plain `votewire watch` finds it too, by demo.json)."""
    script = Path(sys.executable).parent / "votewire"
    votewire = str(script) if script.exists() else f"{sys.executable} -m streams.cli"
    return (f"{votewire} watch --bootstrap {demo.bootstrap} --topic-prefix {demo.topic_prefix} "
            "--race president --state MN")


def _wait_forever() -> None:
    while True:
        time.sleep(3600)


@contextlib.contextmanager
def children(settings: Settings) -> Iterator[str]:
    """A worker and a gateway as child processes, stopped (SIGTERM, then SIGKILL) on exit."""
    # The demo's topics on one development broker are the expected case, not a warning's.
    asyncio.run(ensure_topics(settings, single_broker_expected=True))
    env = {**os.environ, "VOTEWIRE_BOOTSTRAP": settings.bootstrap, "VOTEWIRE_TOPIC_PREFIX": settings.topic_prefix,
           "VOTEWIRE_DATA_DIR": settings.data_dir}
    logs = Path(settings.data_dir) / "demo-logs"
    logs.mkdir(parents=True, exist_ok=True)
    procs = [_spawn(["worker"], env, logs / "worker.log"), _spawn(["gateway"], env, logs / "gateway.log")]
    try:
        _wait_ready(f"http://{settings.worker_web_addr}/readyz", procs[0], logs / "worker.log")
        _wait_ready(f"http://{settings.gateway_addr}/readyz", procs[1], logs / "gateway.log")
        print(f"worker and gateway ready (logs in {logs})", flush=True)
        yield f"http://{settings.gateway_addr}"
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, deadline_s: float = 180.0) -> None:
    """Replaying before the worker consumes would only squash the night into one snapshot."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SetupError(f"{log.stem} exited with {proc.returncode}; see {log}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - loopback
            if answer.status == 200:
                return
        time.sleep(0.3)
    raise SetupError(f"{url} not ready after {deadline_s:.0f}s; see {log}")


def _spawn(verb: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "streams.cli", *verb], env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


async def replay_and_watch(settings: Settings, args: argparse.Namespace) -> str:
    printer = ReadoutPrinter(settings)
    watcher = asyncio.create_task(printer.follow())
    try:
        await replay_files(settings, [args.file], speed=args.speed, max_gap=args.max_gap, progress=False)
        return await printer.settled()
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


class ReadoutPrinter:
    """Prints each state snapshot whose readout changed; remembers the latest line."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.latest_lines: dict[bytes, str] = {}
        self.latest_at = time.monotonic()

    async def settled(self, quiet_s: float = 8.0) -> str:
        """Once the replay is done: the latest line of every race after `quiet_s` seconds
        without a new snapshot."""
        while time.monotonic() - self.latest_at < quiet_s:  # noqa: ASYNC110 - quiet is the absence of events
            await asyncio.sleep(0.5)
        return "\n".join(self.latest_lines[k] for k in sorted(self.latest_lines)) or "(no snapshot)"

    async def follow(self) -> None:
        from aiokafka import AIOKafkaConsumer

        consumer = kafka_client(AIOKafkaConsumer, self.settings, self.settings.topic(contract.STATE_RESULTS),
                                enable_auto_commit=False, auto_offset_reset="earliest")
        await consumer.start()
        shown: dict[bytes, str] = {}
        try:
            async for message in consumer:
                snap = orjson.loads(message.value)
                line = f"{snap['as_of']}  {snap['state']} {snap['race_id']:<10} {snap['readout']}"
                if shown.get(message.key) != snap["readout"]:
                    shown[message.key] = snap["readout"]
                    print(line, flush=True)
                self.latest_lines[message.key] = line
                self.latest_at = time.monotonic()
        finally:
            await consumer.stop()
