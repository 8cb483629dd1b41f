"""One night on one pre-filled topic, read side by side: the limit, the same tally with no
durability, the Quix Streams peer, and a fresh votewire worker catching up.

Each figure goes to the scoreboard as `<role>.<yardstick>` (`us.limit`, `ballot-polls.quix_peer`,
`full.votewire_catchup`, ...), so one run holds every night's row of the side-by-side table.
Any of them that does not end exactly on the simulator's truth fails the run.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from bench import yardsticks
from bench.harness import ROOT, Night, SnapshotWatch, Worker, records_in, same_tally
from bench.scoreboard import Scoreboard
from streams.kafka.replay import replay_files
from streams.settings import Settings


class SideBySide:
    """What every part shares: fresh settings, a worker, a pre-fill, the yardsticks and a catch-up."""

    def __init__(self, args: argparse.Namespace, tmp: Path, bootstrap: str, board: Scoreboard) -> None:
        self.args, self.tmp, self.bootstrap, self.board = args, tmp, bootstrap, board
        self.keep: dict[str, str] = {}  # role -> the last part that goes on with its worker (nights.kept_workers)
        self.live: dict[str, Worker] = {}  # the workers kept running for a later part, by role

    def keep_or_stop(self, role: str, worker: Worker, exact: bool) -> None:
        """A worker a later part goes on with stays up, if it ended exact; any other stops."""
        if exact and role in self.keep:
            self.live[role] = worker
        else:
            worker.stop()

    def release_after(self, part: str) -> None:
        """Stop the workers no part after `part` goes on with."""
        for role in [role for role, last in self.keep.items() if last == part and role in self.live]:
            self.live.pop(role).stop()

    def close(self) -> None:
        for worker in self.live.values():
            worker.stop()
        self.live.clear()

    def settings(self, name: str, prefix: str | None = None) -> Settings:
        tag = uuid.uuid4().hex[:6]
        return Settings.from_env({}, bootstrap=self.bootstrap, topic_prefix=prefix or f"bench-{name}-{tag}.",
                                 app_id=f"bench-{name}-{tag}", data_dir=str(self.tmp / f"{name}-{tag}"),
                                 partitions=self.args.partitions)

    def worker(self, settings: Settings, name: str) -> Worker:
        return Worker(settings, self.tmp / f"{name}.log").start()

    def prefill(self, role: str, files: list[Path]) -> Settings:
        """`files` replayed `--max` into a fresh prefix with no worker running."""
        settings = self.settings(role)
        began = time.perf_counter()
        stats = asyncio.run(replay_files(settings, files, speed=None, max_gap=None, progress=False))
        self.board.note(f"{role}: pre-filled without a worker: {stats.summary()} ({time.perf_counter() - began:.1f} s)")
        return settings

    def compare(self, role: str, settings: Settings, night: Night, deadline: float | None = None) -> None:
        """The whole row: yardsticks, then the worker."""
        self.yardsticks(role, settings, night)
        self.catch_up_figure(role, role, settings, night, deadline)

    # --- the yardsticks -------------------------------------------------------------------------

    def yardsticks(self, role: str, settings: Settings, night: Night) -> None:
        limit = asyncio.run(yardsticks.limit(settings))
        limit["what"] = (f"{role}: bare aiokafka consumer decoding every record (poll and batch elements counted "
                         "as reports)")
        self.board.figure(f"{role}.limit", limit)
        loop = asyncio.run(yardsticks.tally_in_memory(settings, night.truth))
        loop["what"] = (f"{role}: the same idempotent tally (CountingRoom.apply_record) in a plain aiokafka loop, "
                        "in memory")
        exact, keys = loop.pop("exact"), loop.pop("keys")
        loop["exact"] = f"{exact}/{keys}"
        self.board.figure(f"{role}.tally_no_durability", loop)
        self.board.exact_count(f"{role}: same tally, no durability", exact, keys)
        self.board.figure(f"{role}.quix_peer", self.quix(role, settings, night))

    def quix(self, role: str, settings: Settings, night: Night) -> dict[str, Any]:
        count = records_in(settings, "precinct-results")
        began = time.perf_counter()
        done = subprocess.run([sys.executable, str(ROOT / "bench" / "peers" / "quix_tally.py"), "--bootstrap",
                               self.bootstrap, "--prefix", settings.topic_prefix, "--count", str(count), "--state-dir",
                               str(self.tmp / f"quix-{role}")], capture_output=True, check=False)
        seconds = time.perf_counter() - began
        if done.returncode != 0:
            self.board.fail(f"{role}: Quix Streams peer exited {done.returncode}: {done.stderr.decode()[-2000:]}")
            return {"what": f"{role}: Quix Streams peer", "failed": True}
        result = last_json_line(done.stdout)
        tallies = result.pop("tallies")
        exact = sum(1 for key, want in night.truth.items() if key in tallies and same_tally(
            tallies[key]["votes"], tallies[key]["total_votes"], tallies[key]["precincts_reporting"], want))
        self.board.exact_count(f"{role}: Quix Streams peer", exact, len(night.truth))
        return {"exact": f"{exact}/{len(night.truth)}",
                "what": f"{role}: the same tally (CountingRoom.apply_record, race book read first) in Quix Streams "
                        "(StreamingDataFrame, units in its RocksDB state with changelog), from process launch",
                **result, "seconds_inside": result["seconds"],
                "seconds": round(seconds, 2), "records_per_s": round(result["records"] / seconds),
                "reports_per_s": round(result["reports"] / seconds)}

    # --- the worker ---------------------------------------------------------------------------

    def catch_up_figure(self, role: str, name: str, settings: Settings, night: Night,
                        deadline: float | None = None) -> None:
        """`<role>.votewire_catchup`: a fresh worker on `settings`' topics, launch to exact."""
        figure = self.catch_up(name, settings, night, night.reports, deadline)
        figure["what"] = f"{role}: fresh worker catching up on the pre-filled topic, launch to exact final snapshots"
        self.board.figure(f"{role}.votewire_catchup", figure)

    def catch_up(self, name: str, settings: Settings, night: Night, reports: int,
                 deadline: float | None = None) -> dict[str, Any]:
        """A fresh worker (own app id and data dir) on `settings`' topics, timed to exact snapshots."""
        settings = self.settings(name, prefix=settings.topic_prefix)
        records = records_in(settings, "precinct-results")
        exact, seconds, rss, cpu, watch = asyncio.run(self._measure_catch_up(name, settings, night,
                                                                             deadline or self.args.deadline))
        self.board.exactness(f"worker catch-up ({name})", exact, watch)
        return {"records": records, "reports": reports, "seconds": round(seconds, 2),
                "records_per_s": round(records / seconds), "reports_per_s": round(reports / seconds),
                "peak_rss_mb": round(rss * 2**20 / 1e6), "cpu_seconds": round(cpu, 1),
                "exact": f"{len(watch.exact)}/{len(night.truth)}", "with_baseline": with_baseline(watch)}

    async def _measure_catch_up(self, name: str, settings: Settings, night: Night,
                                deadline: float) -> tuple[bool, float, float, float, SnapshotWatch]:
        async with SnapshotWatch(settings, night.truth) as watch:
            await watch.start_at(await watch.end_offsets())
            worker = self.worker(settings, name)
            profiler, exact = self.profile(worker.pid, name), False
            try:
                exact = await watch.wait_exact(deadline, alive=worker.alive)
                return (exact, time.perf_counter() - worker.started, worker.peak_rss_mib(),
                        worker.cpu_seconds(), watch)
            finally:
                if profiler is not None:
                    profiler.send_signal(signal.SIGINT)
                    profiler.wait(timeout=120)
                self.keep_or_stop(name, worker, exact)

    def profile(self, pid: int, part: str) -> subprocess.Popen[bytes] | None:
        """py-spy on `pid`, when --profile is given (see `py_spy_record`)."""
        if not self.args.profile:
            return None
        return subprocess.Popen([*self.py_spy_record(part), "-p", str(pid)], stdout=subprocess.DEVNULL)

    def py_spy_record(self, part: str) -> list[str]:
        """py-spy's command line to record `part` into bench/profiles/<--profile>-<part>.json."""
        out = ROOT / "bench" / "profiles" / f"{self.args.profile}-{part}.json"
        out.parent.mkdir(exist_ok=True)
        py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
        self.board.note(f"py-spy profile of {part}: `bench/profile_summary.py {out.relative_to(ROOT)}`")
        return [py_spy, "record", "-f", "speedscope", "-o", str(out)]


def with_baseline(watch: SnapshotWatch) -> int:
    """Race/states whose final snapshot names a baseline election: the model ran on them."""
    return sum(1 for snapshot in watch.latest.values() if snapshot.get("model_baseline_election_id"))


def last_json_line(out: bytes) -> dict[str, Any]:
    """A peer's result: its last line that is a JSON object (faust writes terminal codes too)."""
    return dict(orjson.loads(next(line for line in reversed(out.splitlines()) if line.startswith(b"{"))))
