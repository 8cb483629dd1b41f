"""`votewire replay`: recorded nights back into the topics (streams.kafka.replay)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from streams.commands.base import DONE, INTERRUPTED, stop_on_interrupt
from streams.errors import NothingDone
from streams.kafka.replay import LineRules, ReplayStats, replay_files
from streams.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Replay recordings (JSON Lines, .gz by suffix; `value` or raw `payload` lines; kcat -J dumps) "
        "into the topics, each record to the prefixed name of the topic it was recorded from.")
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="recordings, replayed one after another")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=float, default=1.0,
                      help="time factor: 1 is real time (default), 60 plays an hour a minute")
    pace.add_argument("--max", action="store_true", help="as fast as the broker takes them, ignoring timing")
    parser.add_argument("--max-gap", type=float, metavar="S",
                        help="wait at most S seconds between two records (after --speed), e.g. to skip the "
                             "weeks before a certified final")
    parser.add_argument("--strict", action="store_true",
                        help="stop with exit 1 at the first line not sent (bad, or for a topic outside the contract) "
                             "instead of skipping it with a warning")
    parser.add_argument("--allow-other-topics", action="store_true",
                        help="also send lines recorded from topics outside the contract (default: skip them)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (it is drawn only on a tty)")
    parser.epilog = ("Exit 0 when records were sent (skipped lines are a warning with a count), 1 when none "
                     "could be (or --strict met a skipped line), 2 on bad usage, 130 when interrupted.")


def run(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_run(args, settings))


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    stop = asyncio.Event()
    with stop_on_interrupt(stop):
        stats = await replay_files(settings, args.files, None if args.max else args.speed, args.max_gap,
                                   progress=not args.no_progress, stop=stop,
                                   rules=LineRules(strict=args.strict, other_topics=args.allow_other_topics))
    if stats.interrupted:
        print(f"replay: interrupted at {stats.position or 'the start'}; everything sent was flushed",
              file=sys.stderr)
        print(f"replay: {stats.summary()}")
        return INTERRUPTED
    if stats.sent == 0:
        raise NothingDone(f"nothing sent from {', '.join(map(str, args.files))}: {stats.summary()}")
    print(f"replay: {stats.summary()}")
    warn_skipped(stats)
    return DONE


def warn_skipped(stats: ReplayStats) -> None:
    if stats.skipped:
        print(f"votewire replay: warning: {stats.skipped:,} lines skipped ({stats.bad_lines:,} bad, "
              f"{stats.other_topics:,} for topics outside the contract); --strict makes that an error",
              file=sys.stderr)
