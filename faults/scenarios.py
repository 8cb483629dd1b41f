"""The fault scenarios: each replays a simulated night through the proxy while faults land.

A scenario is a function of a `Stage`, which holds the night, its processes and the fault
clock (`at(fraction)` sleeps until that share of the replay has gone by). The common part
(topics, lag monitor, replay, waiting for the end, the oracle) is `run_scenario`'s.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faults.monitor import LagMonitor, Recovery
from faults.night import Night
from faults.oracle import final_outputs_match, judge
from faults.probe import send_definitions, send_probes, snapshot_keys
from faults.proxy import FaultProxy
from streams.kafka.topics import TopicSpec, ensure_topics
from streams.localkafka import kafka_local
from streams.settings import Settings
from streams.worker.app import app_id, rekeyed_topic_name
from tests.integration.harness import read_topic, run, stop_process, votewire_env, wait_for

END_DEADLINE_S = 150.0  # after the replay, for the final snapshots to reach the truth


@dataclass
class Cluster:
    """What outlives a scenario: the broker (behind the proxy) and the run's folder."""

    broker: kafka_local.LocalBroker
    proxy: FaultProxy
    workdir: Path

    @property
    def bootstrap(self) -> str:
        return self.proxy.address  # every client goes through the proxy

    def restart_broker(self) -> float:
        """Start the broker again on its data dir; the seconds it took."""
        began = time.monotonic()
        kafka_local.start(self.broker, deadline_s=120)
        return time.monotonic() - began


@dataclass
class Stage:
    name: str
    seed: int
    cluster: Cluster
    night: Night
    settings: Settings
    logs: Path
    replay_seconds: float
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    replay: subprocess.Popen[bytes] | None = None
    monitor: LagMonitor | None = None
    started: float = 0.0
    events: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)  # scenario-specific figures
    failures: list[str] = field(default_factory=list)
    worker_env: dict[str, str] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)
    probe_seq: int = 0

    def note(self, what: str) -> None:
        line = f"{time.monotonic() - self.started:6.1f}s {what}"
        self.events.append(line)
        print(f"  [{self.name} seed {self.seed}] {line}", flush=True)

    def at(self, fraction: float) -> None:
        """Sleep until `fraction` of the planned replay time has gone by."""
        delay = self.started + fraction * self.replay_seconds - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def begin_night(self, *workers: str) -> None:
        """Start these workers, wait until they are ready, then start the replay and the fault clock."""
        for name in workers:
            self.start_worker(name)
        for name in workers:
            self.wait_ready(name)
        with open(self.logs / "replay.log", "ab") as out:
            self.replay = subprocess.Popen(self.night.replay_args(), env=votewire_env(self.settings), stdout=out,
                                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        assert self.monitor is not None
        # The fault clock starts once the night is being sent (the replay takes a few seconds
        # to start on a busy machine: a fault before that would hit no night at all).
        sent_before = self.monitor.input_records
        wait_for(lambda: self.monitor is not None and self.monitor.input_records > sent_before + 20, 120,
                 every_s=0.2, what="the replay sending", alive=self.replay)
        self.started = time.monotonic()
        self.note(f"replaying {self.night.records} records at {self.night.speed:.0f}x")

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        env = votewire_env(self.settings, VOTEWIRE_WORKER_WEB_ADDR=f"127.0.0.1:{kafka_local.free_port()}",
                           **self.worker_env)
        log = self.logs / f"{name}.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen([*_python(), "-m", "streams.cli", "worker"], env=env, stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.workers[name] = proc
        self.note(f"started {name} (pid {proc.pid})")
        return proc

    def wait_ready(self, name: str, deadline_s: float = 120.0) -> None:
        log = self.logs / f"{name}.log"
        wait_for(lambda: "[^Worker]: Ready" in log.read_text(errors="replace"), deadline_s, every_s=0.3,
                 what=f"{name} ready", alive=self.workers[name])

    def kill_worker(self, name: str) -> None:
        """SIGKILL `name` once it is consuming, a seeded fraction of a second later (mid-batch)."""
        self.wait_ready(name)
        time.sleep(self.rng.uniform(0.2, 1.5))
        proc = self.workers.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        self.note(f"SIGKILLed {name}")

    def stop_workers(self, *names: str) -> None:
        """SIGTERM these workers at once, and wait for each."""
        leaving = [self.workers.pop(name) for name in names]
        for proc in leaving:
            proc.send_signal(signal.SIGTERM)
        for proc in leaving:
            stop_process(proc)
        self.note(f"stopped {', '.join(names)} (SIGTERM)")

    def fault_ended(self, fault: str) -> None:
        """Note the fault's end and send the probes their next seq (faults.probe)."""
        assert self.monitor is not None
        ended_at, ended_wall = time.monotonic(), time.time()
        self.probe_seq += 1
        run(send_probes(self.settings, self.probe_seq), 120)
        self.monitor.fault_ended(fault, ended_at, ended_wall, self.probe_seq)
        self.note(f"fault over: {fault}")

    def log_lines(self, text: str) -> int:
        """Lines of every worker log of this scenario that contain `text`."""
        return sum(log.read_text(errors="replace").count(text) for log in self.logs.glob("worker*.log"))

    def expect(self, what: str, ok: bool) -> None:
        if not ok:
            self.failures.append(what)

    def error_lines(self) -> int:
        """ERROR (and CRITICAL) lines in every worker log of this scenario."""
        return sum(_error_lines(log) for log in self.logs.glob("worker*.log"))


def _python() -> list[str]:
    import sys

    return [sys.executable]


def _error_lines(log: Path) -> int:
    text = log.read_text(errors="replace") if log.exists() else ""
    return sum(1 for line in text.splitlines() if "[ERROR]" in line or "[CRITICAL]" in line)


# --- the scenarios -------------------------------------------------------------------------------


def worker_kill(stage: Stage) -> None:
    """The worker SIGKILLed mid-night three times, restarted at once each time."""
    stage.begin_night("worker-1")
    for i, when in enumerate((0.25, 0.5, 0.75), start=2):
        stage.monitor.wait_recovered(20)  # type: ignore[union-attr]  # each kill's recovery its own
        stage.at(when)
        stage.kill_worker(f"worker-{i - 1}")
        stage.start_worker(f"worker-{i}")
        stage.fault_ended(f"kill {i - 1}")


def zombie(stage: Stage) -> None:
    """Two workers; one SIGSTOPped past its session timeout, then SIGCONTed."""
    stage.begin_night("worker-a", "worker-b")
    stage.at(0.3)
    frozen = stage.workers["worker-a"]
    frozen.send_signal(signal.SIGSTOP)
    stage.note("SIGSTOPped worker-a")
    time.sleep(stage.settings.session_timeout_s + 6)
    frozen.send_signal(signal.SIGCONT)
    stage.note("SIGCONTed worker-a")
    stage.fault_ended("zombie")
    stage.wait_ready("worker-a")  # alive after its wake-up, whatever the group made of it
    fenced = wait_for(lambda: stage.log_lines("past its session timeout: it publishes nothing"), 30, every_s=0.5,
                      what="the woken worker fencing itself")
    stage.checks["zombie_fenced"] = fenced


def join_leave(stage: Stage) -> None:
    """Workers joining and leaving during the night: 1 -> 3 -> 1."""
    stage.begin_night("worker-1")
    stage.at(0.25)
    stage.start_worker("worker-2")
    stage.start_worker("worker-3")
    stage.wait_ready("worker-2")
    stage.wait_ready("worker-3")
    stage.fault_ended("join")
    stage.at(0.6)
    stage.stop_workers("worker-2", "worker-3")
    stage.fault_ended("leave")


def broker_bounce(stage: Stage) -> None:
    """The broker SIGKILLed (odd seeds) or SIGTERMed (controlled shutdown, even seeds)
    mid-night, then restarted. One outage per run: a restart takes 20-40 s on a busy machine,
    and both in every run would not fit `make faults` in its 20 minutes. The worker's log must
    hold one "lost" and one "back" line for the outage, not a line per retry."""
    stage.begin_night("worker-1")
    broker = stage.cluster.broker
    stage.at(0.25)
    if stage.seed % 2:
        pid = kafka_local.running_pid(broker)
        assert pid is not None, "the broker is not running"
        os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        how = "SIGKILL"
    else:
        stage.note(kafka_local.stop(broker))
        how = "SIGTERM"
    stage.note(f"{how}: the broker is down")
    time.sleep(3)
    took = stage.cluster.restart_broker()
    stage.note(f"broker back ({took:.1f} s to start)")
    stage.fault_ended(f"broker {how}")
    stage.monitor.wait_recovered(40)  # type: ignore[union-attr]
    time.sleep(4)  # the collapser's quiet period: then it says the broker is back
    lost, back = stage.log_lines("broker connection lost"), stage.log_lines("broker connection back")
    stage.checks["outage_log_lines"] = {"lost": lost, "back": back, "errors": stage.error_lines()}
    stage.expect(f"{lost} 'broker connection lost' lines for one outage", lost == 1)
    stage.expect(f"{back} 'broker connection back' lines for one outage", back == 1)
    stage.expect(f"{stage.error_lines()} ERROR lines through one outage", stage.error_lines() <= 2)


def proxy_faults(stage: Stage) -> None:
    """Through the proxy: a blackhole, then resets, then delays."""
    stage.begin_night("worker-1")
    proxy = stage.cluster.proxy
    stage.at(0.2)
    with proxy.fault("blackhole"):
        stage.note("proxy: blackhole")
        time.sleep(8)
    stage.fault_ended("blackhole 8 s")
    stage.at(0.45)
    for _ in range(3):
        proxy.set_mode("reset")
        time.sleep(0.5)
        proxy.set_mode("pass")
        time.sleep(1.0)
    stage.note(f"proxy: reset every connection 3 times ({proxy.resets} resets so far)")
    stage.fault_ended("resets")
    stage.at(0.65)
    with proxy.fault("delay", 300):
        stage.note("proxy: 300 ms delay")
        time.sleep(6)
    stage.fault_ended("delay 300 ms for 6 s")


def disk_full(stage: Stage) -> None:
    """The worker's state directory on a small tmpfs that fills up, then is freed; then the
    worker is SIGKILLed and restarted, so its checkpoints are read back."""
    mount = Path(stage.settings.data_dir)
    filler = mount / "filler"
    stage.begin_night("worker-1")
    stage.at(0.3)
    with contextlib.suppress(OSError), open(filler, "wb") as f:
        while True:
            f.write(b"\0" * (1 << 20))
            f.flush()
    stage.note(f"filled {mount} ({os.statvfs(mount).f_bavail} blocks left)")
    time.sleep(8)
    filler.unlink()
    freed = time.time()
    stage.note("freed the disk")
    stage.fault_ended("disk full 8 s")
    stage.at(0.8)
    wait_for(lambda: _checkpoints_since(mount, freed), 30, every_s=0.5, what="a checkpoint written after freeing")
    stage.checks["checkpoints_after_freeing"] = _checkpoints_since(mount, freed)
    failed = stage.log_lines("checkpoints cannot be written")
    stage.checks["checkpoint_failures_logged"] = failed
    stage.expect(f"the full disk logged {failed} times, not once", failed == 1)
    stage.kill_worker("worker-1")
    stage.start_worker("worker-2")
    stage.fault_ended("kill after disk full")


def _checkpoints_since(root: Path, since: float) -> int:
    return sum(1 for p in root.glob("worker/checkpoints/*/*") if p.stat().st_mtime >= since)


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str = "16m") -> Any:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SkipScenario(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


class SkipScenario(Exception):
    """A scenario this machine cannot run; the reason goes into the report."""


SCENARIOS: dict[str, Callable[[Stage], None]] = {
    "worker_kill": worker_kill,
    "zombie": zombie,
    "join_leave": join_leave,
    "broker_bounce": broker_bounce,
    "proxy": proxy_faults,
    "disk_full": disk_full,
}
QUICK = ("worker_kill", "zombie", "proxy")


# --- one scenario, end to end ----------------------------------------------------------------------


def run_scenario(name: str, seed: int, cluster: Cluster, night: Night, replay_seconds: float) -> dict[str, Any]:
    began = time.monotonic()
    tag = f"f{seed}{name.replace('_', '')}{os.getpid() % 10000}"
    logs = cluster.workdir / "logs" / f"{name}-{seed}"
    logs.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_env({}, bootstrap=cluster.bootstrap, topic_prefix=f"{tag}.", app_id="votewire",
                                 data_dir=str(cluster.workdir / "data" / f"{name}-{seed}"), partitions=4,
                                 publish_interval_s=0.2)
    stage = Stage(name, seed, cluster, night, settings, logs, replay_seconds,
                  rng=random.Random(seed))
    result: dict[str, Any] = {"scenario": name, "seed": seed}
    try:
        with contextlib.ExitStack() as stack:
            if name == "disk_full":
                stack.enter_context(small_tmpfs(Path(settings.data_dir)))
                stage.worker_env["VOTEWIRE_CHECKPOINT_INTERVAL_S"] = "2"
            _play(stage)
    except SkipScenario as skip:
        return {**result, "status": "skipped", "reason": str(skip)}
    finally:
        for worker in stage.workers.values():  # all at once, then each waited for
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in stage.workers.values():
            stop_process(worker)
        if stage.replay is not None and stage.replay.poll() is None:
            stage.replay.kill()
        if stage.monitor is not None:
            stage.monitor.stop()
    verdict = judge(settings, night.reference)
    recoveries = stage.monitor.recoveries if stage.monitor else []
    probe_recoveries(settings, recoveries)
    unrecovered = [r.fault for r in recoveries if r.seconds is None]
    if unrecovered:
        stage.failures.append(f"no recovery measured after: {', '.join(unrecovered)}")
    if not verdict.passed:
        stage.failures.append("the outputs differ from the truth (see verdict)")
    return {**result, "status": "passed" if not stage.failures else "failed", "failures": stage.failures,
            **verdict.as_dict(), "recovery_s": {r.fault: r.seconds for r in recoveries},
            "caught_up_s": {r.fault: r.caught_up_s for r in recoveries},
            "monitor_failed_polls": stage.monitor.failed_polls if stage.monitor else None,
            "peak_lag": stage.monitor.peak_lag if stage.monitor else None,
            "worker_error_lines": stage.error_lines(), **stage.checks,
            "seconds": round(time.monotonic() - began, 1), "events": stage.events, "logs": str(logs)}


def _play(stage: Stage) -> None:
    settings = stage.settings
    rekeyed = TopicSpec(rekeyed_topic_name(settings), compact=False, oversize=True, log=True)
    run(ensure_topics(settings, extra=(rekeyed,)), 60)
    run(send_definitions(settings), 60)
    stage.monitor = LagMonitor(settings.bootstrap, app_id(settings),
                               (settings.topic("precinct-results"), rekeyed_topic_name(settings))).start()
    stage.started = time.monotonic()
    SCENARIOS[stage.name](stage)
    assert stage.replay is not None, f"{stage.name} never began its night"
    replay_rc = stage.replay.wait(timeout=300)
    stage.note(f"replay done (exit {replay_rc})")
    if replay_rc != 0:
        stage.failures.append(f"the replay failed (exit {replay_rc}; see {stage.logs / 'replay.log'})")
    try:
        wait_for(lambda: final_outputs_match(settings, stage.night.reference), END_DEADLINE_S, every_s=2.0,
                 what="final snapshots equal to the truth")
        stage.note("final state and county snapshots equal the truth")
    except AssertionError as late:
        stage.failures.append(str(late)[:300])
    stage.monitor.wait_recovered(30)
    # The last fault's probes may still be on their way when the night's own figures are final
    # (proxy seed 2 reached the truth 0.2 s after its last fault and stopped the worker before
    # the probes' snapshots were out). Recovery is judged from their record timestamps, so the
    # wait changes no figure; a probe that never shows still fails the scenario.
    with contextlib.suppress(AssertionError):
        if stage.probe_seq:
            wait_for(lambda: probes_shown(settings, stage.probe_seq), 30, every_s=0.5, what="the probes' snapshots")
    stage.checks["error_lines_before_stop"] = stage.error_lines()


def probes_shown(settings: Settings, seq: int) -> bool:
    """Whether every probe race's state snapshot shows the seq sent at the last fault's end."""
    keys = snapshot_keys(settings.partitions)
    shown = {rec.key for rec in run(read_topic(settings, "state-results"), 60)
             if rec.key in keys and rec.value["total_votes"] >= seq}
    return shown == set(keys)


def probe_recoveries(settings: Settings, recoveries: list[Recovery]) -> None:
    """Each fault's recovery from the state snapshots of the probe races (faults.probe): the
    record timestamp of the first snapshot showing the seq sent at the fault's end, for the
    last probe to show it, minus the fault's end. Read after the night, so no live reader has
    to survive the faults itself."""
    records = run(read_topic(settings, "state-results"), 120)
    keys = snapshot_keys(settings.partitions)
    for r in recoveries:
        first: dict[str, int] = {}
        for rec in records:
            if rec.key in keys and rec.key not in first and rec.value["total_votes"] >= r.probe_seq:
                first[rec.key] = rec.timestamp_ms
        r.seconds = round(max(first.values()) / 1000 - r.ended_wall, 2) if len(first) == len(keys) else None


def gateway_load(seed: int, cluster: Cluster, quick: bool) -> dict[str, Any]:
    """The gateway under load, from faults.gateway_load (written on another branch) when present."""
    try:
        module = importlib.import_module("faults.gateway_load")
    except ImportError as missing:
        return {"scenario": "gateway_load", "seed": seed, "status": "skipped",
                "reason": f"faults.gateway_load is not on this branch yet ({missing})"}
    offered = {"seed": seed, "bootstrap": cluster.bootstrap, "work_dir": cluster.workdir / "gateway-load",
               "quick": quick, "broker": cluster.broker, "proxy": cluster.proxy}
    accepted = inspect.signature(module.run).parameters
    takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    kwargs = {k: v for k, v in offered.items() if takes_all or k in accepted}
    began = time.monotonic()
    try:
        report = dict(module.run(**kwargs))
    except Exception as exc:  # a failing scenario is a result, not the harness's crash
        return {"scenario": "gateway_load", "seed": seed, "status": "failed", "failures": [repr(exc)]}
    status = report.get("status") or ("passed" if report.get("passed", True) else "failed")
    return {"scenario": "gateway_load", "seed": seed, **report, "status": status,
            "seconds": report.get("seconds", round(time.monotonic() - began, 1))}
