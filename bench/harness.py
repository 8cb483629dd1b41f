"""What every part of `make bench` shares: the machine, the night and its truth, a worker process,
and a watch on `state-results` that says when the snapshots equal the truth.

A snapshot is *exact* when its total, every candidate's votes and its precincts reporting equal
the simulator's truth for that race/state (the truth file `votewire simulate` writes).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import os
import platform
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.kafka.topics import topic_partitions
from streams.localkafka import kafka_local
from streams.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


# --- The machine and the versions -----------------------------------------------------------

def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    memory_kib = 0
    with contextlib.suppress(OSError, StopIteration):
        memory_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                          if line.startswith("MemTotal:"))
    return {"cores": os.cpu_count(), "memory_gib": round(memory_kib / 2**20, 1), "cpu": cpu,
            "os": f"{platform.system()} {platform.release()}", "load_1min_at_start": round(os.getloadavg()[0], 2)}


def versions(settings: Settings) -> dict[str, str]:
    found = {"python": platform.python_version(), "kafka": settings.kafka_version}
    for package in ("faust-streaming", "aiokafka", "quixstreams", "orjson", "votewire"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    found["votewire_git"] = git_revision()
    return found


def git_revision() -> str:
    """The commit measured, and whether the working tree differed from it (the worker runs from it)."""
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# --- The night --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Night:
    recording: Path
    truth: dict[str, dict[str, Any]]  # state-results key -> final figures
    reports: int  # precinct reports in the night, however they are packed into records
    command: list[str]
    baseline: Path | None = None  # FILE.baseline.jsonl (topic `baselines`), when simulated with --baseline


def simulate(preset: str, out: Path, *, seed: int = 1, flags: tuple[str, ...] = ()) -> Night:
    """`votewire simulate --preset P --seed S --out FILE` plus `flags` (packing, `--baseline`)."""
    command = ["votewire", "simulate", "--preset", preset, "--seed", str(seed), "--out", str(out), *flags]
    subprocess.run([sys.executable, "-m", "streams.cli", *command[1:]], check=True, stdout=subprocess.DEVNULL)
    truth = orjson.loads(Path(f"{out}.truth.json").read_bytes())
    baseline = Path(f"{out}.baseline.jsonl") if "--baseline" in flags else None
    return Night(out, truth["races"], truth["reports"], command, baseline)


# --- A worker process -------------------------------------------------------------------------

@dataclass
class Worker:
    """One `votewire worker` subprocess; `restart` keeps its data dir and app id."""

    settings: Settings
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    web_addr: str = field(default_factory=lambda: f"127.0.0.1:{kafka_local.free_port()}")
    started: float = 0.0

    def start(self) -> Worker:
        env = {**os.environ, "VOTEWIRE_BOOTSTRAP": self.settings.bootstrap,
               "VOTEWIRE_TOPIC_PREFIX": self.settings.topic_prefix, "VOTEWIRE_APP_ID": self.settings.app_id,
               "VOTEWIRE_DATA_DIR": self.settings.data_dir, "VOTEWIRE_PARTITIONS": str(self.settings.partitions),
               "VOTEWIRE_WORKER_WEB_ADDR": self.web_addr}
        with open(self.log, "ab") as out:
            self.started = time.perf_counter()
            self.proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker"], env=env, stdout=out,
                                         stderr=subprocess.STDOUT)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ready(self) -> bool:
        """The worker's own `/readyz`: race book read and no rebalance in progress."""
        try:
            with urllib.request.urlopen(f"http://{self.web_addr}/readyz", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def wait_ready(self, deadline_s: float) -> float:
        """Seconds from start until `/readyz` says ready."""
        while not self.ready():
            if not self.alive():
                raise SystemExit(f"worker exited with {self.proc.returncode if self.proc else '?'}; "
                                 f"the end of {self.log}:\n{self.log_tail()}")
            if time.perf_counter() - self.started > deadline_s:
                raise SystemExit(f"worker not ready after {deadline_s:.0f} s; "
                                 f"the end of {self.log}:\n{self.log_tail()}")
            time.sleep(0.1)
        return time.perf_counter() - self.started

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the worker's log, so a failure says why where the log may not survive."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(log unreadable: {exc})"

    def peak_rss_mib(self) -> float:
        """VmHWM: the most resident memory the process ever had."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_seconds(self) -> float:
        """User plus system CPU seconds the process has used so far (all its threads)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


# --- Watching the snapshots -------------------------------------------------------------------

def same_figures(snapshot: dict[str, Any], want: dict[str, Any]) -> bool:
    return (snapshot["total_votes"] == want["total_votes"]
            and snapshot["precincts_reporting"] == want["precincts_reporting"]
            and {c["candidate_id"]: c["votes"] for c in snapshot["candidates"] if c["votes"]}
            == {c: n for c, n in want["votes"].items() if n})


def same_tally(votes: dict[str, int], total: int, reporting: int, want: dict[str, Any]) -> bool:
    """The same check for a tally held in memory (the yardstick loops)."""
    return (total == want["total_votes"] and reporting == want["precincts_reporting"]
            and {c: n for c, n in votes.items() if n} == {c: n for c, n in want["votes"].items() if n})


class SnapshotWatch:
    """Tails `state-results` (from the beginning or from given offsets), keeps the latest
    snapshot per key, and says when every truth key's latest snapshot is exact."""

    def __init__(self, settings: Settings, truth: dict[str, dict[str, Any]]) -> None:
        self.settings, self.truth = settings, truth
        self.latest: dict[str, dict[str, Any]] = {}
        self.exact: set[str] = set()
        self.consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, enable_auto_commit=False,
                                         auto_offset_reset="earliest", max_partition_fetch_bytes=8 << 20)

    async def __aenter__(self) -> SnapshotWatch:
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def end_offsets(self) -> dict[TopicPartition, int]:
        tps = await topic_partitions(self.consumer, self.settings.topic("state-results"))
        return dict(await self.consumer.end_offsets(tps))

    async def start_at(self, offsets: dict[TopicPartition, int] | None = None) -> None:
        """From the beginning, or only what is written after `offsets` (after a restart)."""
        tps = await topic_partitions(self.consumer, self.settings.topic("state-results"))
        self.consumer.assign(tps)
        if offsets is None:
            await self.consumer.seek_to_beginning(*tps)
        else:
            for tp in tps:
                self.consumer.seek(tp, offsets.get(tp, 0))

    async def wait_exact(self, deadline_s: float, alive: Callable[[], bool] | None = None,
                         until: Callable[[], bool] | None = None) -> bool:
        """Read until every truth key's latest snapshot is exact (True) or the deadline (False).
        With `until`, exact counts only once it is true too (the replay has ended: a key may pass
        through its final figures before a correction)."""
        began = time.perf_counter()
        while len(self.exact) < len(self.truth) or (until is not None and not until()):
            if time.perf_counter() - began > deadline_s or (alive is not None and not alive()):
                return False
            batches = await self.consumer.getmany(timeout_ms=200, max_records=20_000)
            for messages in batches.values():
                for m in messages:
                    self._take(m.key.decode(), orjson.loads(m.value))
        return True

    def _take(self, key: str, snapshot: dict[str, Any]) -> None:
        held = self.latest.get(key)
        if held is not None and snapshot["version"] < held["version"]:
            return
        self.latest[key] = snapshot
        want = self.truth.get(key)
        if want is not None and same_figures(snapshot, want):
            self.exact.add(key)
        else:
            self.exact.discard(key)

    def mismatches(self, limit: int = 5) -> list[str]:
        """A few keys that are not exact, with what they show, for the failure report."""
        out = []
        for key in sorted(set(self.truth) - self.exact)[:limit]:
            got = self.latest.get(key)
            shown = ("no snapshot" if got is None
                     else f"total {got['total_votes']}, reporting {got['precincts_reporting']}")
            out.append(f"{key}: {shown}; truth total {self.truth[key]['total_votes']}, "
                       f"reporting {self.truth[key]['precincts_reporting']}")
        return out


async def end_offsets(settings: Settings, topic: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(await topic_partitions(consumer, topic)))
    finally:
        await consumer.stop()


def records_in(settings: Settings, topic: str) -> int:
    """Records in a contract topic (by its unprefixed name), from its end offsets."""
    return sum(asyncio.run(end_offsets(settings, settings.topic(topic))).values())
