"""`votewire baseline`: a previous election's results per unit -> `baseline/1` records.

    votewire baseline --from 2020.csv --kind us-county-president --election-id 2024-11-05 \
        --race-id president --state MN --out mn-baseline.jsonl

One record per race and state, keyed `{election_id}/{race_id}/{state}` for the compacted
`baselines` topic (why one per race and state: `streams.model.baselines`). `--out FILE` writes
a recording for `votewire replay`; `--to-kafka` produces them now, creating the topic if needed.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from streams import contract
from streams.adapters.base import OutRecord
from streams.errors import ConfigError, InvalidRecord
from streams.model.baselines import BASELINES, Baseline
from streams.model.sources import KINDS, Target, load_baselines
from streams.recording import RecordingWriter
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


def baseline_records(baselines: list[Baseline]) -> list[OutRecord]:
    records = []
    for baseline in baselines:
        ts_ms = contract.parse_time_ms(baseline.issued_at, "issued_at")
        records.append(OutRecord(ts_ms, BASELINES, baseline.key, baseline.to_message()))
    return records


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        contract.parse_time_ms(f"{args.election_id}T00:00:00Z", "--election-id")
    except InvalidRecord:
        raise ConfigError(f"--election-id {args.election_id!r} is not a date (YYYY-MM-DD)") from None
    if args.seq < 0:
        raise ConfigError(f"--seq {args.seq} must be >= 0")
    target = Target(args.election_id, args.race_id, args.state.upper() if args.state else None, seq=args.seq)
    records = baseline_records(load_baselines(args.kind, args.source, target, args.baseline_election_id))
    units = sum(len(r.value["units"]) for r in records)
    if args.to_kafka:
        asyncio.run(produce(settings, records))
        print(f"baseline: {len(records)} records ({units:,} units) produced to {settings.bootstrap}")
    else:
        with RecordingWriter(args.out) as writer:
            for record in records:
                writer.write(record)
        print(f"baseline: {len(records)} records ({units:,} units) written to {args.out}")
    return 0


async def produce(settings: Settings, records: list[OutRecord]) -> None:
    from streams.replay import produce_records
    from streams.topics import TopicSpec, ensure_topics

    # Compacted, like race-definitions: the latest baseline per race and state is kept for good.
    await ensure_topics(settings, extra=(TopicSpec(settings.topic(BASELINES), compact=True, oversize=True),))
    await produce_records(settings, records, progress=False)
