"""`votewire record`: topics -> a recording file that `votewire replay` plays back (streams.kafka.record)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from streams.commands.base import DONE, stop_on_interrupt
from streams.contract.recording import check_writable
from streams.errors import NothingDone
from streams.kafka.record import INPUT_TOPICS, record_topics
from streams.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Record topics into a recording (JSON Lines, gzip when FILE ends in .gz) that `votewire replay` "
        "plays back byte for byte. Stops on Ctrl-C or after --idle-exit quiet seconds.")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE", help="the recording to write")
    parser.add_argument("--topics", nargs="+", default=list(INPUT_TOPICS), metavar="TOPIC",
                        help="topic names without the prefix (default: the four input topics)")
    parser.add_argument("--from-beginning", action="store_true",
                        help="start at the oldest record still kept (default: only new records)")
    parser.add_argument("--idle-exit", type=float, metavar="S", help="stop after S seconds without a record")
    parser.add_argument("--strict", action="store_true",
                        help="stop with exit 1 (and no file) at the first record that cannot be recorded exactly "
                             "(not UTF-8) instead of skipping it with a warning")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (drawn only on a tty)")
    parser.epilog = ("Exit 0 when records were recorded, 1 when none were (no file is left) or --strict met one "
                     "it could not keep, 2 on bad usage.")


def run(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_run(args, settings))


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    check_writable(args.out)
    stop = asyncio.Event()
    with stop_on_interrupt(stop):
        stats = await record_topics(settings, args.out, args.topics, args.from_beginning, args.idle_exit,
                                    progress=not args.no_progress, stop=stop, strict=args.strict)
    if stats.recorded == 0:
        raise NothingDone(f"nothing recorded from {', '.join(settings.topic(t) for t in args.topics)} "
                          f"({stats.summary()}); no file written")
    if stats.interrupted:
        print("record: stopped by Ctrl-C; the recording is complete up to there", file=sys.stderr)
    print(f"record: {stats.summary()} -> {args.out}")
    if stats.skipped:
        print(f"votewire record: warning: {stats.skipped:,} records not recorded (not UTF-8); "
              "--strict makes that an error", file=sys.stderr)
    return DONE
