"""`make bench`: votewire against its yardsticks, all in one run, on one broker.

Each night is simulated once, replayed `--max` into a topic prefix of its own, and read there
side by side (bench/sidebyside.py): the limit (a bare aiokafka consumer decoding every record),
the same tally with no durability (`CountingRoom` in a plain aiokafka loop), the Quix Streams
peer (bench/peers/quix_tally.py) and a fresh votewire worker catching up, each to exact final
snapshots. The parts, in order (`--skip PART`, `--only PART`; the us pre-fill always runs when a
part needs it; `restart` needs `night`, `ballot-restart` and `ballot-latency` need `ballot`):

  night      `simulate --preset us --seed 1` (state polls) replayed `--max` into a fresh prefix
             with a worker running: seconds from the first record sent to exact final
             snapshots, worker peak RSS. This replay is the us topic the next parts read.
  restart    that worker SIGKILLed and started again on its data dir: seconds from the restart
             until every race/state has a snapshot published after the kill that equals the
             truth (and until it says ready).
  yardsticks on the us topic: the limit, the no-durability loop and the Quix Streams peer.
  catchup    a fresh worker (new app id, empty data dir) catching up on the us topic.
  model      the same us night with its baselines topic filled (`simulate --baseline`), so the
             worker's model of the vote still out runs: a fresh worker's catch-up, against the
             one without (issue 20).
  ballot     a full ballot, `simulate --preset full-small --seed 11`, as race batches
             (`--per-race`) and again as state polls, each on its own topic: all four side by
             side. The polls' worker stays up for the next two parts (which bring this one).
  ballot-restart  that worker SIGKILLed and started again on its data dir, as `restart`.
  ballot-latency  report produced -> snapshot read on that worker (the whole full ballot in its
             state and race book): the night's own units reported again, as state polls, at
             5,000 reports/s for 20 s (`--ballot-latency-seconds`).
  full       the full preset (~10M reports) as state polls, all four side by side, with the
             worker's peak RSS; only with `--full` (it does not fit the 15-minute budget).
  single     a single-report night (default the `small` preset, `--single`): faust's no-op
             floor, then a fresh worker catching up to exact.
  latency    report produced -> snapshot read, at 1,000 and 5,000 reports/s offered for 60 s.

Exactness is the point: a worker whose final snapshots differ from the simulator's truth, or
a yardstick whose tally does, fails the run (exit 1, `"status": "failed"` in both files),
whatever its speed. Results: bench/results/latest.json and latest.md (a run with default parts
skipped or other presets writes partial.json/partial.md instead, so it never passes for a full one).

    .venv/bin/python bench/run.py                              # the whole run (make bench)
    .venv/bin/python bench/run.py --full                       # and the full preset
    .venv/bin/python bench/run.py --preset small --only catchup --profile worker-small
    .venv/bin/python bench/run.py --preset tiny --ballot-preset full-tiny --full-preset full-tiny \
        --single-preset tiny --full --latency-seconds 5 --rates 200,1000   # every part, quickly
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_replay import broker
from bench.harness import ROOT, Night, machine, simulate, versions
from bench.nights import PARTS, NightSpec, Presets, chosen_parts, is_whole_run, kept_workers, plan
from bench.parts import Bench
from bench.scoreboard import Scoreboard
from streams.settings import Settings
from streams.simulation.generate import PRESETS


def simulate_nights(specs: list[NightSpec], board: Scoreboard, tmp: Path) -> dict[str, Night]:
    nights = {}
    for spec in specs:
        began = time.perf_counter()
        night = simulate(spec.preset, tmp / spec.file_name, seed=spec.seed, flags=spec.flags)
        board.part_seconds[f"simulate {spec.role}"] = time.perf_counter() - began
        board.inputs[spec.role] = {"command": shlex.join(night.command), "preset": spec.preset, "packing": spec.packing,
                                   "reports": night.reports, "race_states": len(night.truth)}
        nights[spec.role] = night
    return nights


def steps(bench: Bench, nights: dict[str, Night]) -> dict[str, Callable[[], None]]:
    """What each part does, given the nights simulated for this run."""
    us, get = nights.get("us"), nights.get
    return {
        "night": lambda: bench.national_night(_need(us)),
        "restart": lambda: bench.restart("us", _need(us), "the national state"),
        "yardsticks": lambda: bench.yardsticks("us", bench.us_topic(_need(us)), _need(us)),
        "catchup": lambda: bench.catch_up_figure("us", "catchup", bench.us_topic(_need(us)), _need(us)),
        "model": lambda: bench.model(_need(us)),
        "ballot": lambda: bench.ballot(_need(get("ballot-polls")), _need(get("ballot-batches"))),
        "ballot-restart": lambda: bench.restart("ballot-polls", _need(get("ballot-polls")), "a full ballot's state"),
        "ballot-latency": lambda: bench.ballot_latency(_need(get("ballot-polls"))),
        "full": lambda: bench.own_topic("full", _need(get("full"))),
        "single": lambda: bench.single(_need(get("single"))),
        "latency": bench.latency,
    }


def _need(night: Night | None) -> Night:
    assert night is not None, "a part ran without its night simulated (bench.nights.plan)"
    return night


def run(args: argparse.Namespace, board: Scoreboard, tmp: Path) -> None:
    parts = chosen_parts(args.only, args.skip, args.full)
    board.note(f"parts run: {', '.join(parts)}")
    nights = simulate_nights(plan(parts, presets(args)), board, tmp)
    if "single" in parts and args.single_preset != args.preset:
        board.note(f"the single-report topic is the `{args.single_preset}` preset, a smaller night than the "
                   f"`{args.preset}` one, so that the run fits its 15-minute budget")
    with broker(tmp) as bootstrap:
        board.inputs["bootstrap"] = bootstrap
        bench = Bench(args, tmp, bootstrap, board)
        bench.keep = kept_workers(parts)
        try:
            step = steps(bench, nights)
            for part in parts:  # in PARTS' order
                began = time.perf_counter()
                step[part]()
                bench.release_after(part)
                board.part_seconds[part] = time.perf_counter() - began
        finally:
            bench.close()


def presets(args: argparse.Namespace) -> Presets:
    return Presets(args.preset, args.seed, args.ballot_preset, args.ballot_seed, args.full_preset, args.single_preset)


def options() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--preset", default="us", choices=PRESETS, help="the us night's preset (default us)")
    parser.add_argument("--seed", type=int, default=1, help="the us night's seed (default 1)")
    parser.add_argument("--ballot-preset", default="full-small", choices=PRESETS,
                        help="the full-ballot night (default full-small)")
    parser.add_argument("--ballot-seed", type=int, default=11,
                        help="the full-ballot nights' seed, issue 19's (default 11; --full's too)")
    parser.add_argument("--full", action="store_true", help="add the full part (~10M reports; not in the budget)")
    parser.add_argument("--full-preset", default="full", choices=PRESETS, help="the full part's preset (default full)")
    parser.add_argument("--single-preset", default="small", choices=PRESETS,
                        help="the single-report night (default small)")
    parser.add_argument("--only", action="append", choices=PARTS, help="run only this part (repeatable)")
    parser.add_argument("--skip", action="append", choices=PARTS, default=[], help="skip a part (repeatable)")
    parser.add_argument("--rates", type=lambda s: [int(r) for r in s.split(",")], default=[1000, 5000],
                        help="offered reports/s for the latency part (default 1000,5000)")
    parser.add_argument("--latency-seconds", type=float, default=60.0, help="each latency phase (default 60)")
    parser.add_argument("--ballot-latency-seconds", type=float, default=20.0,
                        help="the full ballot's latency phase at 5,000 reports/s (default 20)")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--deadline", type=float, default=600.0, help="seconds any one wait may take")
    parser.add_argument("--profile", metavar="NAME",
                        help="py-spy the catch-up workers and faust's floor into bench/profiles/NAME-<part>.json")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--keep", action="store_true", help="keep the logs and data of a run that passed too")
    return parser


def main() -> int:
    args = options().parse_args()
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
    return finish(args, board, tmp)


def finish(args: argparse.Namespace, board: Scoreboard, tmp: Path) -> int:
    """Write the results (latest.* for a whole run, else partial.*), print them, say how it went."""
    whole = is_whole_run(chosen_parts(args.only, args.skip, args.full), presets(args))
    written = board.write(args.results, "latest" if whole else "partial")
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
