"""`make scale`: votewire spread over workers on a local three-broker Kafka cluster.

Two parts, on one `votewire kafka start --nodes 3`-style cluster in a temporary directory:

  cluster     three workers take a simulated full-ballot night replayed at a steady pace; a
              quarter of the way in, one broker is SIGKILLed and started again; half way in, one
              worker is SIGKILLed and started again on its data dir. Every final `state-results`
              snapshot must equal the simulator's truth. Measured: seconds until the killed broker
              answers again and until every partition is fully in sync again, seconds until the
              two surviving workers have taken over the dead one's partitions (rebalance and
              rebuild) and are ready, seconds until the restarted worker is ready and all three
              are, seconds from the end of the replay to exact snapshots.
  throughput  the same night replayed in full (`--max`) into a fresh prefix, then 1, 2 and 3
              fresh workers (a new group each time) catch up on it: seconds from their launch to
              exact snapshots, and reports per second.

    .venv/bin/python bench/scale.py                 # make scale: both parts, writes bench/results/scale.*
    .venv/bin/python bench/scale.py --quick         # the cluster part on a small night (~2-3 min)

`--quick` is the short form for the test suite (`tests/integration/test_scale.py`) and for
`make faults`; it writes no result files unless `--out` is given. Exit 1 when a final snapshot
is not exact.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import ROOT, SnapshotWatch, Worker, end_offsets, machine, versions
from streams.kafka.topics import ensure_topics
from streams.localkafka import kafka_cluster, kafka_local
from streams.settings import Settings

NODES = 3
WORKERS = 3
PARTS = ("cluster", "throughput")


@dataclass(frozen=True)
class Night:
    recording: Path
    truth: dict[str, dict[str, Any]]
    reports: int
    input_records: int  # precinct-results records in the recording (batches count once)
    windows: int  # distinct record times: the replay's pace is set per gap between them
    command: list[str]


def simulate_night(preset: str, out: Path, seed: int = 1) -> Night:
    command = ["votewire", "simulate", "--preset", preset, "--seed", str(seed), "--malformed", "0.002",
               "--out", str(out)]
    subprocess.run([sys.executable, "-m", "streams.cli", *command[1:]], check=True, stdout=subprocess.DEVNULL)
    truth = orjson.loads(Path(f"{out}.truth.json").read_bytes())
    times, records = set(), 0
    with gzip.open(out) if out.suffix == ".gz" else open(out, "rb") as lines:
        for line in lines:
            record = orjson.loads(line)
            times.add(record["ts"])
            records += record["topic"] == "precinct-results"
    return Night(out, truth["races"], truth["reports"], records, len(times), command)


# --- the cluster ------------------------------------------------------------------------------

def consecutive_free_ports(count: int, host: str = "127.0.0.1") -> int:
    """A port p such that p .. p+count-1 are all free now (node k listens on p + k - 1)."""
    for _ in range(50):
        first = kafka_local.free_port(host)
        if first + count < 65536 and not any(kafka_local.port_in_use(host, first + k) for k in range(count)):
            return first
    raise SystemExit(f"no {count} consecutive free ports found")


@contextlib.contextmanager
def local_cluster(home: Path, heap: str = "256m") -> Iterator[kafka_cluster.LocalCluster]:
    settings = Settings.from_env({}, bootstrap=f"127.0.0.1:{consecutive_free_ports(NODES)}", data_dir=str(home),
                                 kafka_heap=heap)
    cluster = kafka_cluster.LocalCluster(settings, NODES)
    print(kafka_cluster.start(cluster), flush=True)
    try:
        yield cluster
    finally:
        print(kafka_cluster.stop(cluster), flush=True)


def night_settings(cluster: kafka_cluster.LocalCluster, tmp: Path, partitions: int) -> Settings:
    token = uuid.uuid4().hex[:8]
    return Settings.from_env({}, bootstrap=cluster.bootstrap, topic_prefix=f"scale{token}.",
                             app_id=f"votewire-scale-{token}", data_dir=str(tmp / f"workers-{token}"),
                             partitions=partitions, publish_interval_s=0.25)


def planned_workers(settings: Settings, tmp: Path, count: int) -> list[Worker]:
    """`count` workers of one group, each with its own data dir (checkpoints), not started."""
    workers = []
    for i in range(count):
        own = settings.with_(data_dir=f"{settings.data_dir}/worker-{i}")
        Path(own.data_dir).mkdir(parents=True, exist_ok=True)
        workers.append(Worker(own, tmp / f"{Path(settings.data_dir).name}-worker-{i}.log"))
    return workers


@contextlib.contextmanager
def replay_process(settings: Settings, night: Night, gap_s: float | None,
                   log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`votewire replay` as a child, its output in `log`: `--max`, or every gap between two
    record times (a feed's minute) played as `gap_s` seconds, longer gaps capped at it. Killed
    at the end if it still runs."""
    pace = ["--max"] if gap_s is None else ["--speed", str(60 / gap_s), "--max-gap", str(gap_s)]
    env = {**os.environ, "VOTEWIRE_BOOTSTRAP": settings.bootstrap, "VOTEWIRE_TOPIC_PREFIX": settings.topic_prefix}
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "replay", str(night.recording), *pace,
                                 "--no-progress"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def replay_succeeded(proc: subprocess.Popen[bytes], log: Path) -> None:
    if proc.returncode != 0:
        raise SystemExit(f"replay failed ({proc.returncode}): {log.read_text(errors='replace')[-2000:]}")


def delivered(settings: Settings) -> int:
    with contextlib.suppress(Exception):
        return sum(asyncio.run(end_offsets(settings, settings.topic("precinct-results"))).values())
    return -1  # a broker away just now: ask again


def wait_until(check: Callable[[], Any], deadline_s: float, what: str, every_s: float = 0.2) -> float:
    """Seconds until `check()` is truthy; SystemExit at the deadline."""
    began = time.monotonic()
    while not check():
        if time.monotonic() - began > deadline_s:
            raise SystemExit(f"{what}: not within {deadline_s:.0f} s")
        time.sleep(every_s)
    return time.monotonic() - began


def in_sync(settings: Settings) -> bool:
    """Every partition of the night's topics has all its replicas in sync."""
    async def check() -> bool:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
        await admin.start()
        try:
            topics = [t for t in await admin.list_topics() if t.startswith(settings.topic_prefix)]
            described = await admin.describe_topics(topics)
            return all(set(p["isr"]) == set(p["replicas"]) for t in described for p in t["partitions"])
        finally:
            await admin.close()

    with contextlib.suppress(Exception):
        return asyncio.run(check())
    return False


def rebuilds_logged(worker: Worker) -> int:
    """How many rebuilds after an assignment the worker has logged (streams.worker.agents)."""
    with contextlib.suppress(OSError):
        return worker.log.read_text(errors="replace").count("rebuilt the tallies of partitions")
    return 0


# --- part 1: a night on the cluster, a broker and a worker lost -------------------------------

@dataclass
class ClusterRun:
    figures: dict[str, Any] = field(default_factory=dict)
    exact: bool = False
    mismatches: list[str] = field(default_factory=list)


def cluster_night(cluster: kafka_cluster.LocalCluster, night: Night, tmp: Path, partitions: int,
                  replay_s: float) -> ClusterRun:
    settings = night_settings(cluster, tmp, partitions)
    asyncio.run(ensure_topics(settings))
    workers = [w.start() for w in planned_workers(settings, tmp, WORKERS)]
    run = ClusterRun()
    try:
        for w in workers:
            w.wait_ready(180)
        began, log = time.monotonic(), tmp / "replay-cluster.log"
        with replay_process(settings, night, replay_s / max(1, night.windows), log) as replay:
            lose_a_broker(settings, cluster, night, replay)
            # The broker comes back while the night goes on, and the worker is lost meanwhile: a
            # JVM start takes tens of seconds on a loaded machine, longer than the night's rest.
            with ThreadPoolExecutor(max_workers=1) as pool:
                broker_back = pool.submit(bring_back_broker, settings, cluster, run)
                lose_a_worker(workers, settings, night, run, replay)
                broker_back.result()
            wait_until(lambda: replay.poll() is not None, 900, "the replay to end", every_s=0.5)
        replay_succeeded(replay, log)
        run.figures["replay_s"] = round(time.monotonic() - began, 1)
        run.exact, run.mismatches, run.figures["exact_after_replay_s"] = watch_exact(settings, night, workers)
        run.figures["worker_rebuilds_logged"] = [rebuilds_logged(w) for w in workers]
    finally:
        for w in workers:
            w.stop()
    return run


def kill_node(cluster: kafka_cluster.LocalCluster, node_id: int) -> int:
    """SIGKILL one node (no controlled shutdown: a crash). Returns the pid killed."""
    node = next(n for n in kafka_cluster.nodes(cluster) if n.node_id == node_id)
    broker = cluster.broker(node)
    pid = kafka_local.running_pid(broker)
    if pid is None:
        raise SystemExit(f"kafka node {node_id} is not running")
    os.kill(pid, signal.SIGKILL)
    end = time.monotonic() + 30
    while not kafka_local.exited(pid) and time.monotonic() < end:
        time.sleep(0.1)
    broker.pid_file.unlink(missing_ok=True)
    return pid


def lose_a_broker(settings: Settings, cluster: kafka_cluster.LocalCluster, night: Night,
                  replay: subprocess.Popen[bytes]) -> None:
    """A quarter of the way in: SIGKILL node 2 (a crash)."""
    wait_until(lambda: delivered(settings) >= night.input_records // 4 or replay.poll() is not None, 900,
               "a quarter of the night delivered")
    if replay.poll() is not None:
        raise SystemExit("the replay ended before the broker was killed: pace it slower")
    kill_node(cluster, 2)
    print("killed kafka node 2 (SIGKILL)", flush=True)


def bring_back_broker(settings: Settings, cluster: kafka_cluster.LocalCluster, run: ClusterRun) -> None:
    """Node 2 started again after 5 s down; timed until it answers and until every partition has
    all its replicas in sync again (it has caught up with what it missed)."""
    time.sleep(5)
    restarted = time.monotonic()
    kafka_cluster.start(cluster)  # starts the one node that is not running, and waits for it
    run.figures["broker_answers_after_restart_s"] = round(time.monotonic() - restarted, 1)
    wait_until(lambda: in_sync(settings), 300, "all partitions in sync again", every_s=1.0)
    run.figures["broker_in_sync_after_restart_s"] = round(time.monotonic() - restarted, 1)
    print("kafka node 2 back and in sync", flush=True)


def lose_a_worker(workers: list[Worker], settings: Settings, night: Night, run: ClusterRun,
                  replay: subprocess.Popen[bytes]) -> None:
    """Half way: SIGKILL worker 0; time the survivors' takeover; restart it on its data dir."""
    wait_until(lambda: delivered(settings) >= night.input_records // 2 or replay.poll() is not None, 900,
               "half of the night delivered")
    if replay.poll() is not None:
        raise SystemExit("the replay ended before the worker was killed: pace it slower")
    victim, survivors = workers[0], workers[1:]
    before = [rebuilds_logged(w) for w in survivors]
    victim.kill()
    print("killed worker 0 (SIGKILL)", flush=True)
    # The survivors notice when its session times out, rebalance, rebuild what they gained.
    def taken_over() -> int:
        return sum(rebuilds_logged(w) - n for w, n in zip(survivors, before, strict=True))

    # Done when a survivor has rebuilt what it gained (one may get all of the dead worker's
    # partitions, the other none) and both are ready again.
    run.figures["rebalance_s"] = round(wait_until(
        lambda: taken_over() > 0 and all(w.ready() for w in survivors), 180, "the survivors to take over"), 1)
    run.figures["takeover_rebuilds"] = taken_over()
    victim.start()
    run.figures["worker_ready_after_restart_s"] = round(victim.wait_ready(180), 1)
    # Its partitions come back to it: a second rebalance; done when all three are ready.
    wait_until(lambda: all(w.ready() for w in workers), 180, "all workers ready")
    run.figures["all_ready_after_restart_s"] = round(time.perf_counter() - victim.started, 1)
    print("worker 0 back and all three ready", flush=True)


def watch_exact(settings: Settings, night: Night, workers: list[Worker]) -> tuple[bool, list[str], float]:
    async def watch() -> tuple[bool, list[str], float]:
        began = time.monotonic()
        async with SnapshotWatch(settings, night.truth) as w:
            await w.start_at()
            exact = await w.wait_exact(900, alive=lambda: all(x.alive() for x in workers))
            return exact, w.mismatches(), round(time.monotonic() - began, 1)

    return asyncio.run(watch())


# --- part 2: throughput with 1, 2 and 3 workers ------------------------------------------------

def throughput(cluster: kafka_cluster.LocalCluster, night: Night, tmp: Path, partitions: int) -> list[dict[str, Any]]:
    """The night on the topics first (no worker running); then for each worker count a fresh
    group (new app id, empty data dirs) catches up on it, watched from the output's end."""
    settings = night_settings(cluster, tmp, partitions)
    asyncio.run(ensure_topics(settings))
    log = tmp / "replay-throughput.log"
    with replay_process(settings, night, None, log) as replay:
        replay.wait(timeout=1800)
    replay_succeeded(replay, log)
    rows = []
    for count in (1, 2, 3):
        token = uuid.uuid4().hex[:8]
        run_settings = settings.with_(app_id=f"votewire-catchup{count}-{token}", data_dir=str(tmp / f"catchup-{token}"))
        rows.append(catch_up(run_settings, night, tmp, count))
        print(f"{count} worker(s): {rows[-1]}", flush=True)
    return rows


def catch_up(settings: Settings, night: Night, tmp: Path, count: int) -> dict[str, Any]:
    workers = planned_workers(settings, tmp, count)

    async def watch() -> tuple[bool, list[str], float]:
        async with SnapshotWatch(settings, night.truth) as w:
            await w.start_at(await w.end_offsets())  # only what these workers publish
            began = time.perf_counter()
            for worker in workers:
                worker.start()
            exact = await w.wait_exact(1200, alive=lambda: all(x.alive() for x in workers))
            return exact, w.mismatches(), time.perf_counter() - began

    try:
        exact, mismatches, seconds = asyncio.run(watch())
        rss = [round(w.peak_rss_mib()) for w in workers]
        cpu = sum(cpu_seconds(w.pid) for w in workers)
    finally:
        for w in workers:
            w.stop()
    # CPU seconds make the figure readable on a shared machine: reports per worker CPU second
    # is what more cores would multiply, as long as there are partitions and cores to go round.
    return {"workers": count, "exact": exact, "mismatches": mismatches, "seconds": round(seconds, 1),
            "reports_per_s": round(night.reports / seconds), "records_per_s": round(night.input_records / seconds),
            "worker_cpu_s": round(cpu, 1), "reports_per_cpu_s": round(night.reports / cpu) if cpu else None,
            "peak_rss_mib": rss, "load_1min_at_end": round(os.getloadavg()[0], 2)}


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a live process has used (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the run ------------------------------------------------------------------------------------

def quick(tmp: Path, preset: str = "full-tiny", replay_s: float = 75.0, partitions: int = 6) -> dict[str, Any]:
    """The short form: the cluster part only, on a small night. Returns the result (see `main`)."""
    night = simulate_night(preset, tmp / "night.jsonl.gz")
    with local_cluster(tmp / "cluster") as cluster:
        run = cluster_night(cluster, night, tmp, partitions, replay_s)
    return {"preset": preset, "reports": night.reports, "records": night.input_records, "partitions": partitions,
            "exact": run.exact, "mismatches": run.mismatches, **run.figures}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--quick", action="store_true", help="the cluster part only, on a small night")
    parser.add_argument("--preset", help="simulate preset (default: full-tiny with --quick, else full-small)")
    parser.add_argument("--partitions", type=int, default=6, help="partitions per topic (default 6)")
    parser.add_argument("--replay-seconds", type=float, default=75.0,
                        help="about how long the paced replay of the cluster part lasts (default 75)")
    parser.add_argument("--only", action="append", choices=PARTS, help="run this part only (repeatable)")
    parser.add_argument("--out", type=Path, help="write OUT.json and OUT.md (default bench/results/scale "
                                                 "without --quick, none with it)")
    args = parser.parse_args()
    out = args.out or (None if args.quick else ROOT / "bench" / "results" / "scale")
    began = time.monotonic()
    result: dict[str, Any]
    with tempfile.TemporaryDirectory(prefix="votewire-scale-") as tmp_name:
        tmp = Path(tmp_name)
        if args.quick:
            result = {"cluster": quick(tmp, args.preset or "full-tiny", args.replay_seconds, args.partitions)}
        else:
            result = full_run(tmp, args.preset or "full-small", args.replay_seconds, args.partitions,
                              set(args.only or PARTS))
    exact = result.get("cluster", {}).get("exact", True) and all(r["exact"] for r in result.get("throughput", []))
    result.update({"status": "exact" if exact else "failed", "minutes": round((time.monotonic() - began) / 60, 1),
                   "command": " ".join(["bench/scale.py", *sys.argv[1:]]), "machine": machine(),
                   "versions": versions(Settings())})
    print(orjson.dumps(result).decode(), flush=True)
    if out is not None:
        write_results(out, result)
    return 0 if exact else 1


def full_run(tmp: Path, preset: str, replay_s: float, partitions: int, parts: set[str]) -> dict[str, Any]:
    night = simulate_night(preset, tmp / "night.jsonl.gz")
    result: dict[str, Any] = {"night_command": " ".join(night.command)}
    with local_cluster(tmp / "cluster") as cluster:
        if "cluster" in parts:
            run = cluster_night(cluster, night, tmp, partitions, replay_s)
            result["cluster"] = {"preset": preset, "reports": night.reports, "records": night.input_records,
                                 "partitions": partitions, "exact": run.exact, "mismatches": run.mismatches,
                                 **run.figures}
        if "throughput" in parts:
            result["throughput"] = throughput(cluster, night, tmp, partitions)
            result["throughput_night"] = {"preset": preset, "reports": night.reports, "records": night.input_records,
                                          "partitions": partitions}
    return result


def write_results(out: Path, result: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")
    out.with_suffix(".md").write_text(as_markdown(result))
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}", flush=True)


def as_markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [f"# make scale: {result['status']}", "",
             f"`{result['command']}` at {result['versions']['votewire_git']}, {result['minutes']} min; "
             f"{m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, load {m['load_1min_at_start']} at start; "
             f"Kafka {result['versions']['kafka']} (3 local KRaft nodes), faust-streaming "
             f"{result['versions']['faust-streaming']}, aiokafka {result['versions']['aiokafka']}, "
             f"Python {result['versions']['python']}."]
    if "cluster" in result:
        c = result["cluster"]
        lines += ["", "## Cluster night: 3 brokers, 3 workers, a broker and a worker SIGKILLed", "",
                  f"Night: preset `{c['preset']}`, {c['reports']:,} reports in {c['records']:,} records, "
                  f"{c['partitions']} partitions. Final snapshots exact: **{c['exact']}**.", "",
                  "| measure | seconds |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in c.items() if k.endswith("_s")]
    if result.get("throughput"):
        n = result["throughput_night"]
        lines += ["", "## Catch-up throughput by worker count", "",
                  f"Night: preset `{n['preset']}`, {n['reports']:,} reports in {n['records']:,} records, "
                  f"{n['partitions']} partitions, on the topics before the workers start; a fresh group each time.", "",
                  "| workers | exact | seconds | reports/s | records/s | workers' CPU s | reports per CPU s "
                  "| peak RSS MiB | load at end |", "|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['workers']} | {r['exact']} | {r['seconds']} | {r['reports_per_s']:,} | "
                  f"{r['records_per_s']:,} | {r.get('worker_cpu_s')} | {r.get('reports_per_cpu_s')} | "
                  f"{r['peak_rss_mib']} | {r.get('load_1min_at_end')} |" for r in result["throughput"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
