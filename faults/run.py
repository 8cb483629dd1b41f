"""`python -m faults.run`: the fault scenarios over a few seeds, and their JSON report.

    python -m faults.run --seeds 1,2,3                 # every scenario, each seed (make faults)
    python -m faults.run --seeds 1 --quick             # the short form inside make test
    python -m faults.run --seeds 2 --only zombie       # one scenario

Starts its own broker (data in a temporary folder, 384 MB heap) behind the fault proxy,
which is the broker's advertised listener, so every client goes through it. Writes
faults/results/latest.json (or --out); exits 1 when any scenario failed. Needs root for the
tmpfs of `disk_full` (the scenario is skipped, with the reason in the report, without it).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from faults.night import make_night
from faults.proxy import FaultProxy
from faults.scenarios import QUICK, SCENARIOS, Cluster, gateway_load, run_scenario
from streams.localkafka import kafka_local
from streams.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
ALL = (*SCENARIOS, "gateway_load")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m faults.run", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=f"Scenarios: {', '.join(ALL)}. Quick form: {', '.join(QUICK)}, "
                                            "shorter nights.")
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated seeds, one night each (default 1,2,3)")
    parser.add_argument("--quick", action="store_true", help="the main scenarios only, on shorter nights")
    parser.add_argument("--only", action="append", choices=ALL, metavar="SCENARIO",
                        help="run only this scenario (repeatable)")
    parser.add_argument("--night-seconds", type=float, help="replay time of a night (default 16, quick 12)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"report file (default {RESULTS})")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, data) even on success")
    args = parser.parse_args(argv)
    try:
        args.seed_list = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--seeds {args.seeds!r} is not a comma-separated list of integers")
    if not args.seed_list:
        parser.error("--seeds names no seed")
    return args


@contextlib.contextmanager
def cluster_in(workdir: Path) -> Iterator[Cluster]:
    """A broker on a free port, advertised at the proxy's port."""
    broker_port = kafka_local.free_port()
    proxy = FaultProxy(upstream_port=broker_port).start()
    settings = Settings.from_env({}, bootstrap=f"127.0.0.1:{broker_port}", data_dir=str(workdir / "broker"),
                                 kafka_heap="384m")
    broker = kafka_local.LocalBroker(settings, advertised_port=proxy.listen_port)
    print(kafka_local.start(broker, deadline_s=120), f"- clients go through the proxy at {proxy.address}", flush=True)
    try:
        yield Cluster(broker, proxy, workdir)
    finally:
        print(kafka_local.stop(broker), flush=True)
        proxy.stop()


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    by_scenario: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        by_scenario.setdefault(r["scenario"], []).append(r)
    summary: dict[str, Any] = {}
    for name, runs in by_scenario.items():
        recoveries = [s for r in runs for s in (r.get("recovery_s") or {}).values() if s is not None]
        lags = [r["peak_lag"] for r in runs if r.get("peak_lag") is not None]
        summary[name] = {
            "runs": len(runs), "passed": sum(r["status"] == "passed" for r in runs),
            "skipped": sum(r["status"] == "skipped" for r in runs),
            "votes_lost": sum(r.get("votes_lost", 0) for r in runs),
            "votes_counted_twice": sum(r.get("votes_counted_twice", 0) for r in runs),
            "version_regressions": sum(r.get("version_regressions", 0) for r in runs),
            "recovery_s_p50": round(statistics.median(recoveries), 2) if recoveries else None,
            "recovery_s_max": max(recoveries) if recoveries else None,
            "peak_lag_max": max(lags) if lags else None,
        }
    return summary


def git_revision() -> str:
    done = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True, check=False,
                          cwd=Path(__file__).resolve().parent)
    return done.stdout.strip() or "unknown"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM as Ctrl-C: the workers, the broker and the proxy are stopped on the way out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    names = list(args.only or (QUICK if args.quick else ALL))
    seconds = args.night_seconds or (12.0 if args.quick else 16.0)
    began, started_at = time.monotonic(), datetime.now(UTC).isoformat(timespec="seconds")
    workdir = Path(tempfile.mkdtemp(prefix="votewire-faults-"))
    print(f"faults: scenarios {', '.join(names)} over seeds {args.seeds}; work folder {workdir}", flush=True)
    results: list[dict[str, Any]] = []
    with cluster_in(workdir) as cluster:
        for seed in args.seed_list:
            night = make_night(seed, workdir / "nights" / f"seed-{seed}", seconds)
            for name in names:
                print(f"faults: {name}, seed {seed}", flush=True)
                if name == "gateway_load":
                    result = gateway_load(seed, cluster, args.quick)
                else:
                    result = run_scenario(name, seed, cluster, night, seconds)
                results.append(result)
                print(f"faults: {name}, seed {seed}: {result['status']} {_brief(result)}", flush=True)
    passed = all(r["status"] in ("passed", "skipped") for r in results)
    report = {"started_at": started_at, "revision": git_revision(), "seeds": args.seed_list, "quick": args.quick,
              "night_seconds": seconds, "seconds": round(time.monotonic() - began, 1), "passed": passed,
              "summary": summarise(results), "scenarios": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"faults: {'every scenario passed' if passed else 'FAILED'} in {report['seconds']:.0f} s; "
          f"report in {args.out}", flush=True)
    if passed and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"faults: logs and data kept in {workdir}", flush=True)
    return 0 if passed else 1


def _brief(result: dict[str, Any]) -> str:
    if result["status"] == "skipped":
        return f"({result.get('reason')})"
    keys = ("votes_lost", "votes_counted_twice", "version_regressions", "units_wrong_seq", "dead_letters_distinct",
            "dead_letters_injected", "recovery_s", "peak_lag", "worker_error_lines", "seconds", "failures")
    return " ".join(f"{k}={result[k]}" for k in keys if k in result)


if __name__ == "__main__":
    sys.exit(main())
