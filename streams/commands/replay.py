"""`votewire replay`: recorded nights back into the topics (streams.kafka.replay)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from streams.commands.base import stop_on_interrupt
from streams.kafka.replay import replay_files
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
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (it is drawn only on a tty)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_run(args, settings))


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    stop = asyncio.Event()
    with stop_on_interrupt(stop):
        stats = await replay_files(settings, args.files, None if args.max else args.speed, args.max_gap,
                                   progress=not args.no_progress, stop=stop)
    if stats.interrupted:
        print(f"replay: interrupted at {stats.position or 'the start'}; everything sent was flushed",
              file=sys.stderr)
    print(f"replay: {stats.summary()}")
    return 130 if stats.interrupted else 0
