"""Issue 17, items 3 and 4 on the real broker: a command that could not do its job exits non-zero
with one line; lines for topics outside the contract are refused; `watch` finds a running demo
and says where it looked when it finds nothing.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from streams import contract
from streams.kafka.producer import Sender, open_producer
from streams.kafka.topics import ensure_topics
from streams.localkafka import kafka_local
from streams.localkafka.running_demo import DEMO_FILE
from streams.settings import Settings
from tests.integration.harness import run, votewire_env, votewire_process, wait_for
from tests.support.examples import state_result

pytestmark = pytest.mark.integration
GOOD = orjson.dumps({"ts": 1, "topic": "race-definitions", "key": "2024-11-05/president/MN", "value": {"x": 1}})


def votewire(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, check=False)


def last_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    return done.stderr.strip().splitlines()[-1]


async def topic_names(settings: Settings) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


def test_replay_of_nothing_readable_exits_1(settings: Settings, tmp_path: Path) -> None:
    garbage, plain = tmp_path / "garbage.bin", tmp_path / "plain.jsonl.gz"
    garbage.write_bytes(bytes(range(256)) * 8)
    plain.write_bytes(GOOD + b"\n")  # a good line, but not gzip
    env = votewire_env(settings)
    for path in (garbage, plain):
        done = votewire(["replay", "--max", str(path)], env, tmp_path)
        assert done.returncode == 1, done.stderr
        assert last_line(done).startswith(f"votewire replay: nothing sent from {path}: 0 records sent, ")
    assert "unreadable, rest of file skipped (Not a gzipped file" in done.stderr


def test_replay_warns_with_a_count_of_bad_lines_and_strict_fails_on_them(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "night.jsonl"
    path.write_bytes(GOOD + b"\n{not json\n" + GOOD + b"\n")
    env = votewire_env(settings)
    kept = votewire(["replay", "--max", str(path)], env, tmp_path)
    assert kept.returncode == 0, kept.stderr
    assert kept.stdout.startswith("replay: 2 records sent, 1 bad lines")
    assert last_line(kept) == ("votewire replay: warning: 1 lines skipped (1 bad, 0 for topics outside the "
                               "contract); --strict makes that an error")
    strict = votewire(["replay", "--max", "--strict", str(path)], env, tmp_path)
    assert strict.returncode == 1
    assert last_line(strict).startswith(f"votewire replay: {path}:2: not JSON (")
    assert last_line(strict).endswith("; stopped by --strict after 1 records sent")


def test_replay_refuses_a_topic_outside_the_contract_unless_allowed(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "typo.jsonl"
    path.write_bytes(orjson.dumps({"ts": 1, "topic": "precinct-result", "key": "k", "value": {}}) + b"\n")
    env = votewire_env(settings)
    refused = votewire(["replay", "--max", str(path)], env, tmp_path)
    assert refused.returncode == 1, refused.stderr
    assert (f"{path}:1: topic 'precinct-result' is not a contract topic; skipped (--allow-other-topics sends it)"
            in refused.stderr.splitlines())
    assert "1 for topics outside the contract skipped" in last_line(refused)
    assert settings.topic("precinct-result") not in run(topic_names(settings))  # before: created and "sent"
    allowed = votewire(["replay", "--max", "--allow-other-topics", str(path)], env, tmp_path)
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.startswith("replay: 1 records sent, 0 bad lines")


def test_record_of_nothing_exits_1_and_leaves_no_file(settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "night.jsonl.gz"
    done = votewire(["record", "--out", str(out), "--idle-exit", "1", "--no-progress"], votewire_env(settings),
                    tmp_path)
    assert done.returncode == 1, done.stderr
    assert last_line(done).startswith(f"votewire record: nothing recorded from {settings.topic('race-definitions')}")
    assert list(tmp_path.iterdir()) == []


def demo_env(settings: Settings, data_dir: Path) -> dict[str, str]:
    """The environment of a user who set nothing: no bootstrap, no prefix (the demo's are in demo.json)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOTEWIRE_")}
    return {**env, "VOTEWIRE_DATA_DIR": str(data_dir)}


async def publish_snapshot(settings: Settings) -> None:
    await ensure_topics(settings)
    async with open_producer(settings) as producer:
        sender = Sender(producer)
        await sender.send(settings.topic(contract.STATE_RESULTS), "2024-11-05/president/MN/live",
                          orjson.dumps(state_result("MN", version=3)))
        await sender.drain()


def watch_until(env: dict[str, str], cwd: Path, wanted: str, deadline_s: float = 60) -> tuple[str, str]:
    """`votewire watch --race president --state MN` until `wanted` is in its stdout or stderr."""
    with open(cwd / "out", "w") as out, open(cwd / "err", "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "watch", "--race", "president", "--state",
                                 "MN"], env=env, cwd=cwd, stdout=out, stderr=err)
    try:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end and wanted not in (cwd / "out").read_text() + (cwd / "err").read_text():
            time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return (cwd / "out").read_text(), (cwd / "err").read_text()


def test_plain_watch_follows_a_running_demo(settings: Settings, tmp_path: Path) -> None:
    run(publish_snapshot(settings))
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    # What `votewire demo` writes while it runs (streams.localkafka.running_demo): this test's
    # own pid stands for the demo's, alive.
    (data_dir / DEMO_FILE).write_bytes(orjson.dumps({"bootstrap": settings.bootstrap, "topic_prefix":
                                                     settings.topic_prefix, "board": "http://127.0.0.1:8080",
                                                     "pid": os.getpid()}))
    out, err = watch_until(demo_env(settings, data_dir), tmp_path, "Harris")
    assert err.splitlines()[0] == (f"votewire watch: following the running demo (prefix {settings.topic_prefix}, "
                                   f"broker {settings.bootstrap}, board http://127.0.0.1:8080)")
    assert " president MN " in out
    assert "Harris" in out.splitlines()[0]


def test_watch_with_no_topics_says_where_it_looked_and_where_they_are(settings: Settings, tmp_path: Path) -> None:
    demo = settings.with_(topic_prefix=f"demo{time.time_ns()}.")  # as a demo names its prefix: shown first
    run(ensure_topics(demo))  # the night is under the demo's prefix; watch is pointed at another
    env = {**votewire_env(settings), "VOTEWIRE_TOPIC_PREFIX": "nothing-here."}
    _, err = watch_until(env, tmp_path, "waiting for topics", deadline_s=30)
    [line] = [line for line in err.splitlines() if "waiting for topics" in line]
    assert line.startswith(f"WARNING waiting for topics nothing-here.state-results on {settings.bootstrap} "
                           "(topic prefix nothing-here.): create them with `votewire topics create` or start a worker; "
                           f"this broker has them under the prefix {demo.topic_prefix}")


class Forwarder:
    """A TCP port that forwards to the broker once `open()`ed: the broker's address, before and
    after an outage, as far as the gateway's bootstrap can tell."""

    def __init__(self, port: int, target: str) -> None:
        self.port, (self.host, self.target_port) = port, target.rsplit(":", 1)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: asyncio.Server | None = None

    def open(self) -> None:
        self.server = asyncio.run_coroutine_threadsafe(asyncio.start_server(self.forward, "127.0.0.1", self.port),
                                                       self.loop).result(10)

    async def forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        to_reader, to_writer = await asyncio.open_connection(self.host, int(self.target_port))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, to_writer), pipe(to_reader, writer), return_exceptions=True)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.stop_forwarding(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        # Closed, not left to the collector: an unclosed loop (and its self-pipe sockets) found
        # by a later test's garbage collection fails that test as an unraisable ResourceWarning.
        self.loop.close()

    async def stop_forwarding(self) -> None:
        if self.server is not None:
            self.server.close()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def test_the_gateway_logs_a_broker_outage_once_when_it_starts_and_once_when_it_ends(settings: Settings,
                                                                                   tmp_path: Path) -> None:
    run(ensure_topics(settings))
    port = kafka_local.free_port()
    env = {**votewire_env(settings), "VOTEWIRE_BOOTSTRAP": f"127.0.0.1:{port}",
           "VOTEWIRE_GATEWAY_ADDR": f"127.0.0.1:{kafka_local.free_port()}"}
    log, forwarder = tmp_path / "gateway.log", Forwarder(port, settings.bootstrap)
    try:
        with votewire_process(["gateway"], env, log):
            wait_for(lambda: "broker connection lost" in log.read_text(), 60, every_s=0.5, what="the outage line")
            time.sleep(6)  # three retries while the broker is away
            forwarder.open()
            wait_for(lambda: "broker connection back" in log.read_text(), 60, every_s=0.5, what="the back line")
            time.sleep(3)
    finally:
        forwarder.close()
    text = log.read_text()
    assert "Traceback" not in text, text
    assert "Unclosed" not in text, text
    assert (text.count("broker connection lost"), text.count("broker connection back")) == (1, 1), text
