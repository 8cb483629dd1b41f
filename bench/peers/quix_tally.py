"""The votewire tally written with Quix Streams: the peer `make bench` compares the worker with.

The same shape as the worker, in Quix's idiom: a `StreamingDataFrame` over `precinct-results`
whose stateful step decodes each record with the contract's decoder (a state poll, `state-poll/1`,
a race batch, `precinct-batch/1`, or a single report alike), applies each report with
`CountingRoom.apply_record` (the same tally as the no-durability loop: seq rules, totals,
alerts computed), and writes the accepted unit to Quix's state (RocksDB with a changelog
topic: its durability, as the worker's table is votewire's). As that loop does, it first reads
the race book (`race-definitions`, `expected-votes`, with a plain aiokafka consumer), so the
alerts see the same definitions. No snapshots are produced. It stops after `--count` records (the topic's end
offsets, counted by the caller) and prints one JSON line: records, reports, seconds, and its
final tallies, so the caller can check that it is exact.

    .venv/bin/python bench/peers/quix_tally.py --bootstrap 127.0.0.1:9092 \
        --prefix benchabc. --count 123456 --state-dir /tmp/quix
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))
from quixstreams import Application, State

from bench.peers.unit_codec import encode_unit
from bench.yardsticks import read_book
from streams.contract import decode_precinct_record
from streams.counting.room import CountingRoom
from streams.errors import InvalidRecord
from streams.settings import Settings


class QuixTally:
    def __init__(self, room: CountingRoom) -> None:
        self.room = room
        self.records = self.reports = self.refused = 0

    def apply(self, value: bytes, key: Any, timestamp: int, headers: Any, state: State) -> int:
        self.records += 1
        try:
            record = decode_precinct_record(value)
        except InvalidRecord:
            self.refused += 1
            return 0
        self.refused += len(record.refused)
        results, _alerts = self.room.apply_record(record.reports, timestamp)
        self.reports += len(results)
        for report, applied in zip(record.reports, results, strict=True):
            if applied.unit is not None:
                state.set(f"{report.mode}/{report.precinct_id}", encode_unit(applied.unit).decode())
        return 1

    def summary(self, seconds: float) -> dict[str, Any]:
        return {"records": self.records, "reports": self.reports, "refused": self.refused,
                "seconds": round(seconds, 2),
                "tallies": {k.state_result_key: {"total_votes": t.total_votes, "votes": t.votes,
                                                 "precincts_reporting": t.precincts_reporting}
                            for k, t in self.room.tallies.items()}}


def main() -> None:
    began = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--prefix", required=True, help="the topic prefix of the pre-filled night")
    parser.add_argument("--count", type=int, required=True, help="records to consume (the end offsets)")
    parser.add_argument("--state-dir", required=True)
    args = parser.parse_args()
    app = Application(broker_address=args.bootstrap, consumer_group=f"bench-quix-{uuid.uuid4().hex[:8]}",
                      auto_offset_reset="earliest", state_dir=args.state_dir, loglevel=logging.WARNING)
    settings = Settings.from_env({}, bootstrap=args.bootstrap, topic_prefix=args.prefix)
    room = CountingRoom()
    asyncio.run(read_book(settings, room))
    topic = app.topic(settings.topic("precinct-results"), key_deserializer="str", value_deserializer="bytes")
    tally = QuixTally(room)
    app.dataframe(topic).apply(tally.apply, stateful=True, metadata=True)
    app.run(count=args.count, collect=False)
    sys.stdout.buffer.write(orjson.dumps(tally.summary(time.perf_counter() - began)) + b"\n")


if __name__ == "__main__":
    main()
