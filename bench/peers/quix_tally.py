"""The votewire tally written with Quix Streams: the peer `make bench` compares the worker with.

The same shape as the worker, in Quix's idiom: a `StreamingDataFrame` over `precinct-results`
whose stateful step decodes each record with the contract's decoder and applies each report to
an in-memory `RaceTally` (the same pure tally: seq rules, totals), and writes the accepted unit
to Quix's state (RocksDB with a changelog topic: its durability, as the worker's table is
votewire's). No snapshots are produced. It stops after `--count` records (the topic's end
offsets, counted by the caller) and prints one JSON line: records, reports, seconds, and its
final tallies, so the caller can check that it is exact.

    .venv/bin/python bench/peers/quix_tally.py --bootstrap 127.0.0.1:9092 \
        --topic benchabc.precinct-results --count 123456 --state-dir /tmp/quix
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))
from quixstreams import Application, State

from streams.contract import TallyKey, decode_precinct_record
from streams.errors import InvalidRecord
from streams.tally import RaceTally, encode_unit


class QuixTally:
    def __init__(self) -> None:
        self.tallies: dict[TallyKey, RaceTally] = {}
        self.records = self.reports = self.refused = 0

    def apply(self, value: bytes, key: Any, timestamp: int, headers: Any, state: State) -> int:
        self.records += 1
        try:
            record = decode_precinct_record(value)
        except InvalidRecord:
            self.refused += 1
            return 0
        self.refused += len(record.refused)
        for report in record.reports:
            self.reports += 1
            tally_key = TallyKey(report.election_id, report.race_id, report.state, report.mode)
            tally = self.tallies.get(tally_key) or self.tallies.setdefault(tally_key, RaceTally(tally_key))
            applied = tally.apply(report)
            if applied.unit is not None:
                state.set(f"{report.mode}/{report.precinct_id}", encode_unit(applied.unit).decode())
        return 1

    def summary(self, seconds: float) -> dict[str, Any]:
        return {"records": self.records, "reports": self.reports, "refused": self.refused,
                "seconds": round(seconds, 2),
                "tallies": {k.state_result_key: {"total_votes": t.total_votes, "votes": t.votes,
                                                 "precincts_reporting": t.precincts_reporting}
                            for k, t in self.tallies.items()}}


def main() -> None:
    began = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True, help="the full name of the precinct-results topic")
    parser.add_argument("--count", type=int, required=True, help="records to consume (the end offsets)")
    parser.add_argument("--state-dir", required=True)
    args = parser.parse_args()
    app = Application(broker_address=args.bootstrap, consumer_group=f"bench-quix-{uuid.uuid4().hex[:8]}",
                      auto_offset_reset="earliest", state_dir=args.state_dir, loglevel=logging.WARNING)
    topic = app.topic(args.topic, key_deserializer="str", value_deserializer="bytes")
    tally = QuixTally()
    app.dataframe(topic).apply(tally.apply, stateful=True, metadata=True)
    app.run(count=args.count, collect=False)
    sys.stdout.buffer.write(orjson.dumps(tally.summary(time.perf_counter() - began)) + b"\n")


if __name__ == "__main__":
    main()
