"""`make bench`: votewire against its yardsticks, all in one run, on one broker, one pre-filled topic.

In order (each part can be skipped with `--skip PART`, or run alone with `--only PART`; the
pre-fill always runs when a later part needs it):

  night      `simulate --preset us` replayed `--max` into a fresh topic prefix with a worker
             running: seconds from the first record sent to exact final snapshots, worker
             peak RSS. This replay is also the pre-fill every later part reads.
  restart    that worker SIGKILLed and started again on its data dir: seconds from the
             restart until every race/state has a snapshot published after the kill that
             equals the truth (and until it says ready).
  yardsticks on the pre-filled topic: a bare aiokafka consumer decoding every record (the
             limit), the same tally in memory with no durability, and the Quix Streams peer.
  catchup    a fresh worker (new app id, empty data dir) catching up on the pre-filled topic:
             seconds from its launch until its own snapshots are all exact.
  single     a single-report night (default the `small` preset; one report per record) in
             its own prefix: faust's no-op floor, then a fresh worker catching up to exact.
  latency    report produced → snapshot read, at 1,000 and 5,000 reports/s offered for 60 s.

Exactness is the point: a worker whose final snapshots differ from the simulator's truth, or
a yardstick whose tally does, fails the run (exit 1, `"status": "failed"` in both files),
whatever its speed. Results: bench/results/latest.json and latest.md (a run with parts skipped
writes partial.json/partial.md instead, so it never passes for a full one).

    .venv/bin/python bench/run.py                              # the whole run (make bench)
    .venv/bin/python bench/run.py --preset small --latency-seconds 10 --rates 200,1000
    .venv/bin/python bench/run.py --preset small --only catchup --profile worker-small
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import latency, yardsticks
from bench.bench_replay import broker
from bench.harness import ROOT, Night, SnapshotWatch, Worker, machine, records_in, same_tally, simulate, versions
from bench.scoreboard import Scoreboard
from streams.kafka.replay import ReplayStats, replay_files
from streams.settings import Settings

PARTS = ("night", "restart", "yardsticks", "catchup", "single", "latency")


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path, bootstrap: str, board: Scoreboard) -> None:
        self.args, self.tmp, self.bootstrap, self.board = args, tmp, bootstrap, board

    def settings(self, name: str, prefix: str | None = None) -> Settings:
        tag = uuid.uuid4().hex[:6]
        return Settings.from_env({}, bootstrap=self.bootstrap, topic_prefix=prefix or f"bench-{name}-{tag}.",
                                 app_id=f"bench-{name}-{tag}", data_dir=str(self.tmp / f"{name}-{tag}"),
                                 partitions=self.args.partitions)

    def worker(self, settings: Settings, name: str) -> Worker:
        return Worker(settings, self.tmp / f"{name}.log").start()

    # --- national night, restart ------------------------------------------------------------

    def night(self, night: Night, parts: set[str]) -> Settings:
        settings = self.settings("night")
        if "night" not in parts:
            began = time.perf_counter()
            stats = asyncio.run(replay_files(settings, [night.recording], speed=None, max_gap=None, progress=False))
            self.board.note(f"pre-fill without a worker: {stats.summary()} ({time.perf_counter() - began:.1f} s)")
            return settings
        worker = self.worker(settings, "night")
        try:
            worker.wait_ready(self.args.deadline)
            seconds, stats, exact, watch = asyncio.run(self.replay_and_watch(settings, night))
            self.board.figure("national_night", {
                "what": "replay --max of the whole night (all topics) with the worker running, from the first "
                        "record sent to exact final snapshots",
                "records": stats.sent, "reports": night.reports, "replay_seconds": round(stats.seconds, 2),
                "seconds": round(seconds, 2),
                "peak_rss_mb": round(worker.peak_rss_mib() * 2**20 / 1e6),
                "exact": f"{len(watch.exact)}/{len(night.truth)}"})
            self.board.exactness("national night", exact, watch)
            if "restart" in parts and exact:
                self.restart(worker, settings, night)
        finally:
            worker.stop()
        return settings

    async def replay_and_watch(self, settings: Settings, night: Night) -> tuple[float, ReplayStats, bool,
                                                                                SnapshotWatch]:
        async with SnapshotWatch(settings, night.truth) as watch:
            await watch.start_at(await watch.end_offsets())
            began = time.perf_counter()
            replay = asyncio.create_task(replay_files(settings, [night.recording], speed=None, max_gap=None,
                                                      progress=False))
            exact = await watch.wait_exact(self.args.deadline, until=replay.done)
            seconds = time.perf_counter() - began
            return seconds, await replay, exact, watch

    def restart(self, worker: Worker, settings: Settings, night: Night) -> None:
        async def measure() -> tuple[bool, float, float | None]:
            async with SnapshotWatch(settings, night.truth) as watch:
                offsets = await watch.end_offsets()
                worker.kill()
                worker.start()
                await watch.start_at(offsets)
                ready = asyncio.create_task(asyncio.to_thread(worker.wait_ready, self.args.deadline))
                exact = await watch.wait_exact(self.args.deadline, alive=worker.alive)
                current = time.perf_counter() - worker.started
                ready_s = await ready if exact else None
                self.board.exactness("restart", exact, watch)
                return exact, current, ready_s

        _exact, current, ready_s = asyncio.run(measure())
        self.board.figure("restart", {
            "what": "worker SIGKILLed with the national state and started again on its data dir: seconds from "
                    "the restart until every race/state has a snapshot published after the kill equal to the truth",
            "seconds": round(current, 2), "ready_seconds": round(ready_s, 2) if ready_s is not None else None})

    # --- yardsticks and catch-up on the pre-filled topic ----------------------------------------

    def yardsticks(self, settings: Settings, night: Night) -> None:
        limit = asyncio.run(yardsticks.limit(settings))
        limit["what"] = "bare aiokafka consumer decoding every record (batch elements counted as reports)"
        self.board.figure("limit", limit)
        loop = asyncio.run(yardsticks.tally_in_memory(settings, night.truth))
        loop["what"] = "the same idempotent tally (CountingRoom.apply_record) in a plain aiokafka loop, in memory"
        exact, keys = loop.pop("exact"), loop.pop("keys")
        loop["exact"] = f"{exact}/{keys}"
        self.board.figure("tally_no_durability", loop)
        self.board.exact_count("same tally, no durability", exact, keys)
        self.board.figure("quix_peer", self.quix(settings, night))

    def quix(self, settings: Settings, night: Night) -> dict[str, Any]:
        count = records_in(settings, "precinct-results")
        began = time.perf_counter()
        done = subprocess.run([sys.executable, str(ROOT / "bench" / "peers" / "quix_tally.py"), "--bootstrap",
                               self.bootstrap, "--prefix", settings.topic_prefix, "--count", str(count), "--state-dir",
                               str(self.tmp / "quix")], capture_output=True, check=False)
        seconds = time.perf_counter() - began
        if done.returncode != 0:
            self.board.fail(f"Quix Streams peer exited {done.returncode}: {done.stderr.decode()[-2000:]}")
            return {"what": "Quix Streams peer", "failed": True}
        result = last_json_line(done.stdout)
        tallies = result.pop("tallies")
        exact = sum(1 for key, want in night.truth.items() if key in tallies and same_tally(
            tallies[key]["votes"], tallies[key]["total_votes"], tallies[key]["precincts_reporting"], want))
        self.board.exact_count("Quix Streams peer", exact, len(night.truth))
        return {"exact": f"{exact}/{len(night.truth)}",
                "what": "the same tally (CountingRoom.apply_record, race book read first) in Quix Streams "
                        "(StreamingDataFrame, units in its RocksDB state with changelog), from process launch",
                **result, "seconds_inside": result["seconds"],
                "seconds": round(seconds, 2), "records_per_s": round(result["records"] / seconds),
                "reports_per_s": round(result["reports"] / seconds)}

    def catch_up(self, name: str, settings: Settings, night: Night, reports: int) -> dict[str, Any]:
        """A fresh worker (own app id and data dir) on `settings`' topics, timed to exact snapshots."""
        settings = self.settings(name, prefix=settings.topic_prefix)
        records = records_in(settings, "precinct-results")

        async def measure() -> tuple[bool, float, float, float, SnapshotWatch]:
            async with SnapshotWatch(settings, night.truth) as watch:
                await watch.start_at(await watch.end_offsets())
                worker = self.worker(settings, name)
                profiler = self.profile(worker.pid, name)
                try:
                    exact = await watch.wait_exact(self.args.deadline, alive=worker.alive)
                    return (exact, time.perf_counter() - worker.started, worker.peak_rss_mib(),
                            worker.cpu_seconds(), watch)
                finally:
                    if profiler is not None:
                        profiler.send_signal(signal.SIGINT)
                        profiler.wait(timeout=120)
                    worker.stop()

        exact, seconds, rss, cpu, watch = asyncio.run(measure())
        self.board.exactness(f"worker catch-up ({name})", exact, watch)
        return {"records": records, "reports": reports, "seconds": round(seconds, 2),
                "records_per_s": round(records / seconds), "reports_per_s": round(reports / seconds),
                "peak_rss_mb": round(rss * 2**20 / 1e6), "cpu_seconds": round(cpu, 1),
                "exact": f"{len(watch.exact)}/{len(night.truth)}"}

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

    # --- single-report topic ------------------------------------------------------------------

    def single(self, night: Night) -> None:
        settings = self.settings("single")
        stats = asyncio.run(replay_files(settings, [night.recording], speed=None, max_gap=None, progress=False))
        self.board.note(f"single-report topic: `{shlex.join(night.command)}`, pre-filled: {stats.summary()}")
        count = records_in(settings, "precinct-results")
        began = time.perf_counter()
        floor = [sys.executable, str(ROOT / "bench" / "peers" / "faust_floor.py"), "--bootstrap", self.bootstrap,
                 "--topic", settings.topic("precinct-results"), "--count", str(count),
                 "--data-dir", str(self.tmp / "floor")]
        if self.args.profile:  # py-spy starts it: attaching to a process this young can miss its start
            floor = [*self.py_spy_record("floor"), "--", *floor]
        done = subprocess.run(floor, capture_output=True, check=False, timeout=self.args.deadline)
        seconds = time.perf_counter() - began
        if done.returncode != 0:
            self.board.fail(f"faust floor exited {done.returncode}: {done.stderr.decode()[-2000:]}")
        else:
            inside = last_json_line(done.stdout)
            self.board.figure("faust_floor_single", {
                "what": "faust app counting stream.events() (raw serializers, memory store), from process launch",
                "records": count, "seconds": round(seconds, 2), "records_per_s": round(count / seconds),
                "seconds_first_to_last": inside["seconds_first_to_last"]})
        figure = self.catch_up("single", settings, night, night.reports)
        figure["what"] = "fresh worker catching up on the single-report topic, launch to exact final snapshots"
        self.board.figure("votewire_catchup_single", figure)

    # --- latency ------------------------------------------------------------------------------

    def latency(self) -> None:
        settings = self.settings("latency")
        asyncio.run(latency.prepare(settings))
        worker = self.worker(settings, "latency")
        try:
            worker.wait_ready(self.args.deadline)
            seq = 0
            for rate in self.args.rates:
                figure, seq = asyncio.run(latency.run_phase(settings, rate, self.args.latency_seconds, seq))
                figure["what"] = (f"report produced -> state snapshot read, {rate:,} reports/s offered, "
                                  f"{figure['delivery']}")
                self.board.figure(f"latency_{rate}", figure)
        finally:
            worker.stop()


def last_json_line(out: bytes) -> dict[str, Any]:
    """A peer's result: its last line that is a JSON object (faust writes terminal codes too)."""
    return dict(orjson.loads(next(line for line in reversed(out.splitlines()) if line.startswith(b"{"))))


def run(args: argparse.Namespace, board: Scoreboard, tmp: Path) -> None:
    parts = set(args.only or PARTS) - set(args.skip)
    board.note(f"parts run: {', '.join(p for p in PARTS if p in parts)}")
    needs_night = parts & {"night", "restart", "yardsticks", "catchup"}
    night = single_night = None
    if needs_night:
        night = simulate(args.preset, tmp / f"{args.preset}.jsonl.gz", single=False)
        board.inputs["night"] = {"command": shlex.join(night.command), "reports": night.reports,
                                 "race_states": len(night.truth)}
    if "single" in parts:
        single_night = simulate(args.single_preset, tmp / f"{args.single_preset}-single.jsonl.gz", single=True)
        if args.single_preset != args.preset:
            board.note(f"the single-report topic is the `{args.single_preset}` preset, a smaller night than the "
                       f"pre-filled `{args.preset}` one, so that the run fits its 15-minute budget")
        board.inputs["single"] = {"command": shlex.join(single_night.command), "reports": single_night.reports,
                                  "race_states": len(single_night.truth)}
    with broker(tmp) as bootstrap:
        board.inputs["bootstrap"] = bootstrap
        bench = Bench(args, tmp, bootstrap, board)
        if night is not None:
            settings = bench.night(night, parts)
            if "yardsticks" in parts:
                bench.yardsticks(settings, night)
            if "catchup" in parts:
                figure = bench.catch_up("catchup", settings, night, night.reports)
                figure["what"] = "fresh worker catching up on the pre-filled topic, launch to exact final snapshots"
                board.figure("votewire_catchup", figure)
        if single_night is not None:
            bench.single(single_night)
        if "latency" in parts:
            bench.latency()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--preset", default="us", help="the night of the pre-filled topic (default us)")
    parser.add_argument("--single-preset", default="small", help="the single-report night (default small)")
    parser.add_argument("--only", action="append", choices=PARTS, help="run only this part (repeatable)")
    parser.add_argument("--skip", action="append", choices=PARTS, default=[], help="skip a part (repeatable)")
    parser.add_argument("--rates", type=lambda s: [int(r) for r in s.split(",")], default=[1000, 5000],
                        help="offered reports/s for the latency part (default 1000,5000)")
    parser.add_argument("--latency-seconds", type=float, default=60.0)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--deadline", type=float, default=600.0, help="seconds any one wait may take")
    parser.add_argument("--profile", metavar="NAME",
                        help="py-spy the catch-up workers and faust's floor into bench/profiles/NAME-<part>.json")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--keep", action="store_true", help="keep the logs and data of a run that passed too")
    args = parser.parse_args()
    full = not args.only and not args.skip and args.preset == "us"
    env = Settings.from_env()
    board = Scoreboard(command=shlex.join(["python", "bench/run.py", *sys.argv[1:]]), machine=machine(),
                       versions=versions(env), publish_interval_s=env.publish_interval_s)
    tmp = Path(tempfile.mkdtemp(prefix="votewire-bench-"))
    began = time.perf_counter()
    try:
        run(args, board, tmp)
    except (SystemExit, Exception) as error:  # the results still say what was measured, and why it stopped
        board.fail(f"run stopped: {error!r}")
    board.wall_seconds = time.perf_counter() - began
    written = board.write(args.results, "latest" if full else "partial")
    print(written[1].read_text())
    print(f"results: {', '.join(str(p) for p in written)}")
    if board.failures:
        print(f"FAILED; logs kept in {tmp}", file=sys.stderr)
        return 1
    if args.keep:
        print(f"logs kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
