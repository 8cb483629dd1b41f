"""`votewire baseline`: a previous election's results per unit -> `baseline/1` records.

    votewire baseline --from 2020.csv --kind us-county-president --election-id 2024-11-05 \
        --race-id president --state MN --out mn-baseline.jsonl

One record per race and state, keyed `{election_id}/{race_id}/{state}` for the compacted
`baselines` topic (why one per race and state: `streams.model.baselines`; the loaders:
`streams.adapters.baselines`). `--out FILE` writes a recording for `votewire replay`;
`--to-kafka` produces them now, creating the topic if needed.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from streams import contract
from streams.adapters.baselines import KINDS, load_baselines
from streams.adapters.formats import write_recording
from streams.errors import ConfigError, InvalidRecord
from streams.model.sources import Target
from streams.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="source", type=Path, required=True, metavar="FILE",
                        help="the previous election's results")
    parser.add_argument("--kind", choices=KINDS, required=True,
                        help="us-county-president (2016/2020/2024 county CSVs), openelections (a county or "
                             "precinct CSV), recording (a night's final snapshots or reports)")
    parser.add_argument("--election-id", required=True, help="the election being counted now, YYYY-MM-DD")
    parser.add_argument("--race-id", default="president", help="the race, now and in the source (default president)")
    parser.add_argument("--state", help="USPS code: only this state (default: every state in the file)")
    parser.add_argument("--baseline-election-id", metavar="ID",
                        help="the source's own election (default: from the file name or the recording)")
    parser.add_argument("--seq", type=int, default=0,
                        help="version; a re-issued baseline needs a higher one (default 0)")
    out = parser.add_argument_group("output (one of)").add_mutually_exclusive_group(required=True)
    out.add_argument("--out", type=Path, metavar="FILE", help="write a recording (JSON Lines, .gz for gzip)")
    out.add_argument("--to-kafka", action="store_true", help="produce the records to the baselines topic now")


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        contract.parse_time_ms(f"{args.election_id}T00:00:00Z", "--election-id")
    except InvalidRecord:
        raise ConfigError(f"--election-id {args.election_id!r} is not a date (YYYY-MM-DD)") from None
    if args.seq < 0:
        raise ConfigError(f"--seq {args.seq} must be >= 0")
    target = Target(args.election_id, args.race_id, args.state.upper() if args.state else None, seq=args.seq)
    baselines = load_baselines(args.kind, args.source, target, args.baseline_election_id)
    units = sum(len(b.units) for b in baselines)
    if args.to_kafka:
        from streams.kafka.producer import produce_baselines

        asyncio.run(produce_baselines(settings, baselines))
        print(f"baseline: {len(baselines)} records ({units:,} units) produced to {settings.bootstrap}")
    else:
        write_recording((b.to_record() for b in baselines), args.out, progress=False)
        print(f"baseline: {len(baselines)} records ({units:,} units) written to {args.out}")
    return 0
