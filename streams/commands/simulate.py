"""`votewire simulate`: a seeded, deterministic election night at any scale, as a recording
(streams.simulation.generate says what is in it).

    votewire simulate --preset us --seed 7 --out night.jsonl.gz
    votewire simulate --preset small --target CA=Harris:58.5,Trump:38.3 --malformed 0.01 --out s.jsonl
    votewire simulate --preset small --per-race --out s.jsonl      # one precinct-batch/1 per race
    votewire simulate --preset tiny --single --out t.jsonl          # one record per report
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from streams.contract.recording import check_writable
from streams.errors import ConfigError
from streams.progress import Progress
from streams.settings import Settings
from streams.simulation.clock import MINUTE_MS
from streams.simulation.generate import PRESETS, build_night, write_baselines, write_night, write_truth


def fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction between 0 and 1")
    return value


def seconds(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a whole number of seconds >= 1")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("Presets: us = 51 jurisdictions, ~3,150 counties, ~178,000 precincts, president plus 33 "
                     "senate races (~1M reports: ~150,000 records with --per-race, ~1M with --single, fewer as "
                     "state polls); small = 7 states at 5% of their precincts; tiny = 2 states, 3 counties each "
                     "(tests). FILE.truth.json holds the final totals and the dead letters to expect, the same "
                     "however the reports are packed.")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small", help="scale of the night (default small)")
    parser.add_argument("--seed", type=int, default=1,
                        help="random seed; the same seed gives the same file (default 1)")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE",
                        help="recording to write (.jsonl, or .jsonl.gz for gzip)")
    parser.add_argument("--target", action="append", default=[], metavar="STATE[/RACE]=NAME:PCT,...",
                        help="final shares for a state's race, e.g. CA=Harris:58.5,Trump:38.3 or "
                             "AZ/senate=Gallego:50.1 (others keep their proportions; repeatable)")
    parser.add_argument("--malformed", type=fraction, default=0.0, metavar="FRACTION",
                        help="add this share of malformed precinct reports (raw payloads of many kinds; default 0)")
    parser.add_argument("--duplicates", type=fraction, default=0.02, metavar="FRACTION",
                        help="share of reports followed by a re-sent older one (default 0.02)")
    parser.add_argument("--out-of-order", type=fraction, default=0.01, metavar="FRACTION",
                        help="share of reports delivered after the next one (default 0.01)")
    parser.add_argument("--corrections", type=fraction, default=0.004, metavar="FRACTION",
                        help="share of precinct results reported too high, then corrected down (default 0.004)")
    parser.add_argument("--election-id", default="2024-11-05", help="election day, YYYY-MM-DD (default 2024-11-05)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="processes that make states in parallel; the file is the same for any N "
                             "(default: the number of CPUs)")
    parser.add_argument("--mode", choices=("live", "test"), default="live", help="mode of every report (default live)")
    parser.add_argument("--calls", action="store_true",
                        help="also race calls (race-call/1, by AP and by the desk: every race called at its end, "
                             "one call retracted, a runoff where a majority is needed), vote-for-2 county contests "
                             "and their final calls in the truth file; without it the night is unchanged")
    parser.add_argument("--baseline", action="store_true",
                        help="also write FILE.baseline.jsonl: each race's previous election per precinct "
                             "(baseline/1), turnout and swing varying by county; the night itself is unchanged")
    packing = parser.add_mutually_exclusive_group()
    packing.add_argument("--batch-window", type=seconds, default=MINUTE_MS // 1000, metavar="SECONDS",
                         help="send reports as a feed polled this often delivers them: one state-poll/1 record "
                              "per state and window (every race of the state), at the window's end, split under "
                              "1 MiB (default 60)")
    packing.add_argument("--single", action="store_true",
                         help="one precinct-result/1 record per report instead of polls")
    parser.add_argument("--per-race", action="store_true",
                        help="one precinct-batch/1 record per race, state and window instead of one state-poll/1 "
                             "per state (with --batch-window; not with --single)")


@contextlib.contextmanager
def spill_dir(args: argparse.Namespace) -> Iterator[Path | None]:
    """A scratch directory beside the output for a preset that spills (removed at the end), else None."""
    if not PRESETS[args.preset].spill:
        yield None
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".simulate-", dir=args.out.parent) as scratch:
        yield Path(scratch)


def run(args: argparse.Namespace, settings: Settings) -> int:
    del settings  # writes a file; no broker involved
    if args.per_race and args.single:
        raise ConfigError("--per-race packs reports into race batches, --single sends them one a record: pick one")
    try:
        datetime.fromisoformat(args.election_id)
    except ValueError:
        raise ConfigError(f"--election-id {args.election_id!r} is not a date (YYYY-MM-DD)") from None
    check_writable(args.out)
    progress = Progress("simulate")
    with spill_dir(args) as spill:
        night = build_night(args, progress, spill)
        records = write_night(night, args.out, progress)
    truth = write_truth(night, args)
    if args.baseline:
        write_baselines(night, args.out)
    progress.close()
    print(f"votewire simulate: wrote {records:,} records ({night.out.report_count:,} precinct reports, "
          f"{night.out.malformed_count:,} of them malformed) to {args.out}; truth in {truth}", file=sys.stderr)
    return 0
