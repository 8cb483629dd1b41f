"""`votewire ingest FORMAT ...`: an official feed -> a recording file or straight to Kafka.

Each format is a module in `streams.adapters` (streams.adapters.formats). The output options
(`--out FILE` or `--to-kafka`, `--per-race`, `--single`) are common to every format: adapters
emit one `state-poll/1` record per state per poll or file; `--per-race` sends one
`precinct-batch/1` per race instead, and `--single` one `precinct-result/1` per record (for
consumers that predate polls or batches).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from streams.adapters.base import SkippedParts, one_report_per_record, race_batches
from streams.adapters.formats import FORMATS, Adapter, load_adapter, write_recording
from streams.commands.base import DONE, VerbParser, common_flags
from streams.contract.recording import check_writable
from streams.errors import NothingDone
from streams.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = "`votewire ingest FORMAT --help` lists a format's own options."
    parser.add_argument("format", choices=sorted(FORMATS), metavar="FORMAT",
                        help=f"source format: {', '.join(sorted(FORMATS))}")
    # Everything after FORMAT is parsed by that format's own parser (see `format_parser`).
    parser.add_argument("format_args", nargs=argparse.REMAINDER, metavar="...",
                        help="the format's arguments, then --out FILE or --to-kafka")


def format_parser(name: str, adapter: Adapter) -> argparse.ArgumentParser:
    parser = VerbParser(prog=f"votewire ingest {name}", parents=[common_flags()],
                        description=f"Turn {name} source files into contract records.")
    adapter.add_arguments(parser)
    out = parser.add_argument_group("output (one of)").add_mutually_exclusive_group(required=True)
    out.add_argument("--out", type=Path, metavar="FILE",
                     help="write a recording (JSON Lines, gzip when FILE ends in .gz) for `votewire replay`")
    out.add_argument("--to-kafka", action="store_true", help="produce the records to the topics now")
    packing = parser.add_mutually_exclusive_group()
    packing.add_argument("--per-race", action="store_true",
                         help="one precinct-batch/1 per race and state per poll or file instead of one "
                              "state-poll/1 per state")
    packing.add_argument("--single", action="store_true",
                         help="one precinct-result/1 per record instead of one state-poll/1 per state per poll or file")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (drawn only on a tty)")
    return parser


def run(args: argparse.Namespace, settings: Settings) -> int:
    adapter = load_adapter(args.format)
    fargs = format_parser(args.format, adapter).parse_args(args.format_args)
    settings = settings.with_(**{name: value for name in ("bootstrap", "topic_prefix", "data_dir")
                                 if (value := getattr(fargs, name)) is not None})
    if fargs.out:
        check_writable(fargs.out)
    skipped = SkippedParts(fargs.strict, args.format)
    records = adapter.records(fargs, skipped)
    if fargs.single:
        records = one_report_per_record(records)
    elif fargs.per_race:
        records = race_batches(records)
    if fargs.to_kafka:
        from streams.kafka.producer import produce_records

        count = asyncio.run(produce_records(settings, records, progress=not fargs.no_progress))
        done = f"{count:,} records produced to {settings.bootstrap}"
    else:
        count = write_recording(records, fargs.out, progress=not fargs.no_progress)
        done = f"{count:,} records written to {fargs.out}"
    if count == 0:
        raise NothingDone(f"no records from {source_names(fargs)} ({skipped.count:,} malformed parts skipped); "
                          "nothing written")
    print(f"ingest {args.format}: {done}")
    if skipped.count:
        print(f"votewire ingest {args.format}: warning: {skipped.count:,} malformed parts skipped; "
              "--strict makes that an error", file=sys.stderr)
    return DONE


def source_names(fargs: argparse.Namespace) -> str:
    sources = getattr(fargs, "files", None) or [getattr(fargs, "dir", None) or getattr(fargs, "url", "?")]
    return ", ".join(map(str, sources))
