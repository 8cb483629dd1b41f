"""The parts of `make bench` (bench/run.py says what each measures), on one broker.

The `us` night's pre-filled topic is made once, by the `night` part (replayed with a worker
running) or, when that part does not run, by a plain pre-fill; `yardsticks`, `catchup` and
`model` read it. Every other night has a topic of its own.
"""

from __future__ import annotations

import asyncio
import shlex
import subprocess
import sys
import time
from typing import Any

from bench import latency
from bench.harness import ROOT, Night, SnapshotWatch, Worker, records_in
from bench.latency import Delivery
from bench.sidebyside import SideBySide, last_json_line
from streams.kafka.replay import ReplayStats, replay_files
from streams.settings import Settings

# The full preset's catch-up may take several times the us night's: its waits get at least this.
FULL_DEADLINE_S = 1800.0
# The full ballot's live latency is measured where issue 19's target is set: 5,000 reports/s.
BALLOT_RATE = 5000


class Bench(SideBySide):
    us: Settings | None = None  # the us night's pre-filled topic, once made

    def us_topic(self, night: Night) -> Settings:
        if self.us is None:
            self.us = self.prefill("us", [night.recording])
        return self.us

    # --- the us night: national night, restart, yardsticks, catch-up, model ----------------------

    def national_night(self, night: Night) -> None:
        """The night replayed `--max` with a worker running; that worker stays up for `restart`."""
        self.us = settings = self.settings("night")
        worker, exact = self.worker(settings, "night"), False
        try:
            worker.wait_ready(self.args.deadline)
            seconds, stats, exact, watch = asyncio.run(self.replay_and_watch(settings, night))
            self.board.figure("national_night", night_figure(night, seconds, stats, worker, watch))
            self.board.exactness("national night", exact, watch)
        finally:
            self.keep_or_stop("us", worker, exact)

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

    def restart(self, role: str, night: Night, state: str) -> None:
        """`role`'s running worker (caught up on `night`) SIGKILLed and started again on its data
        dir; it stays up for a later part if it gets current again. Figure `restart` for the us
        night (as before), `<role>.restart` for any other."""
        worker = self.live.pop(role, None)
        if worker is None:
            self.board.note(f"{role}: restart not measured: its worker did not end exact")
            return
        exact = False
        try:
            current, ready_s, exact = asyncio.run(self.measure_restart(worker, night, role))
        finally:  # stopped, unless current again and a later part goes on with it
            self.keep_or_stop(role, worker, exact)
        self.board.figure("restart" if role == "us" else f"{role}.restart", {
            "what": f"{role}: worker SIGKILLed with {state} and started again on its data dir: seconds from "
                    "the restart until every race/state has a snapshot published after the kill equal to the truth",
            "race_states": len(night.truth), "seconds": round(current, 2),
            "ready_seconds": round(ready_s, 2) if ready_s is not None else None})

    async def measure_restart(self, worker: Worker, night: Night, role: str) -> tuple[float, float | None, bool]:
        async with SnapshotWatch(worker.settings, night.truth) as watch:
            offsets = await watch.end_offsets()
            worker.kill()
            worker.start()
            await watch.start_at(offsets)
            ready = asyncio.create_task(asyncio.to_thread(worker.wait_ready, self.args.deadline))
            exact = await watch.wait_exact(self.args.deadline, alive=worker.alive)
            current = time.perf_counter() - worker.started
            ready_s = await ready if exact else None
            self.board.exactness("restart" if role == "us" else f"restart ({role})", exact, watch)
            return current, ready_s, exact

    def model(self, night: Night) -> None:
        """The us catch-up again with the baselines topic filled, right after the one without."""
        if night.baseline is None:
            raise SystemExit("the model part needs the us night simulated with --baseline")
        if "us.votewire_catchup" not in self.board.figures:  # `catchup` did not run: the figure without
            self.catch_up_figure("us", "catchup", self.us_topic(night), night)
        settings = self.prefill("us-model", [night.baseline, night.recording])
        self.board.inputs["us-model"] = {"packing": "state polls, baselines topic filled (baseline/1)",
                                         "baselines": str(night.baseline.name)}
        self.catch_up_figure("us-model", "model", settings, night)
        if not self.board.figures["us-model.votewire_catchup"]["with_baseline"]:
            self.board.fail("model: no final snapshot names a baseline: the worker did not run the model")

    # --- nights of their own: the full ballot, the full preset --------------------------------

    def ballot(self, polls: Night, batches: Night) -> None:
        """The same full-ballot night as race batches, then as state polls, each on its own topic
        (polls last: their worker may stay up for `ballot-restart` and `ballot-latency`)."""
        self.own_topic("ballot-batches", batches)
        self.own_topic("ballot-polls", polls)

    def ballot_latency(self, night: Night) -> None:
        """Live latency on a full ballot: the ballot-polls worker (holding the whole night) fed
        state polls of the night's own units, with seqs above the night's, at `BALLOT_RATE`."""
        worker = self.live.get("ballot-polls")
        if worker is None:
            self.board.note("ballot-polls: latency not measured: its worker did not end exact")
            return
        units, first_seq = latency.recorded_units(night.recording, night.truth)
        self.latency_phase("ballot-polls.latency", worker.settings, BALLOT_RATE, self.args.ballot_latency_seconds,
                           first_seq, "polls", units)

    def own_topic(self, role: str, night: Night) -> None:
        deadline = max(self.args.deadline, FULL_DEADLINE_S) if role == "full" else None
        self.compare(role, self.prefill(role, [night.recording]), night, deadline)

    # --- single-report topic ------------------------------------------------------------------

    def single(self, night: Night) -> None:
        settings = self.prefill("single", [night.recording])
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
            self.board.figure("single.faust_floor", {
                "what": "single: faust app counting stream.events() (raw serializers, memory store), from launch",
                "records": count, "seconds": round(seconds, 2), "records_per_s": round(count / seconds),
                "seconds_first_to_last": last_json_line(done.stdout)["seconds_first_to_last"]})
        self.catch_up_figure("single", "single", settings, night)
        self.board.note(f"single-report topic: `{shlex.join(night.command)}`")

    # --- latency ------------------------------------------------------------------------------

    def latency(self) -> None:
        settings = self.settings("latency")
        asyncio.run(latency.prepare(settings))
        worker = self.worker(settings, "latency")
        try:
            worker.wait_ready(self.args.deadline)
            seq = 0
            for rate in self.args.rates:
                seq = self.latency_phase("latency", settings, rate, self.args.latency_seconds, seq)
        finally:
            worker.stop()

    def latency_phase(self, name: str, settings: Settings, rate: int, seconds: float, seq: int,
                      delivery: Delivery = "batches", units: list[dict[str, Any]] | None = None) -> int:
        """Figure `<name>_<rate>`: one phase offered to the running worker; returns the next free seq."""
        figure, seq = asyncio.run(latency.run_phase(settings, rate, seconds, seq, delivery=delivery, units=units))
        figure["what"] = (f"{name.split('.')[0]}: report produced -> state snapshot read, {rate:,} reports/s offered "
                          f"over {figure['race_states']:,} race/states, {figure['delivery']}")
        self.board.figure(f"{name}_{rate}", figure)
        return seq


def night_figure(night: Night, seconds: float, stats: ReplayStats, worker: Worker, watch: SnapshotWatch,
                 ) -> dict[str, Any]:
    return {"what": "us: replay --max of the whole night (all topics) with the worker running, from the first "
                    "record sent to exact final snapshots",
            "records": stats.sent, "reports": night.reports, "replay_seconds": round(stats.seconds, 2),
            "seconds": round(seconds, 2), "peak_rss_mb": round(worker.peak_rss_mib() * 2**20 / 1e6),
            "exact": f"{len(watch.exact)}/{len(night.truth)}"}
