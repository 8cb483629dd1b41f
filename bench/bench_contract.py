"""How many precinct reports a second one core decodes and validates (the worker's hot path).

usage: .venv/bin/python bench/bench_contract.py [--records N] [--rounds R]

Records are shaped like a real election night's: a few candidates with counts in the
hundreds, an id per precinct, `Z` and offset times, and every tenth record a county unit with
its precinct counts. Each figure is the best of R rounds over the same N encoded records, so
a stray pause of the machine does not count; orjson alone is printed as the floor.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from collections.abc import Callable

import orjson

from streams.contract import decode_object
from streams.contract.messages import decode_precinct_record
from streams.errors import InvalidRecord

CANDIDATES = ("harris", "trump", "stein", "oliver", "kennedy", "de_la_cruz")


def realistic_records(count: int, seed: int = 2024) -> list[bytes]:
    rng = random.Random(seed)
    return [orjson.dumps(_report(rng, i)) for i in range(count)]


def _report(rng: random.Random, i: int) -> dict[str, object]:
    county = f"27{rng.randrange(1, 175, 2):03d}"
    report: dict[str, object] = {
        "schema": "precinct-result/1", "election_id": "2024-11-05", "race_id": "president", "state": "MN",
        "county_fips": county, "precinct_id": f"{county}-{i:05d}", "seq": rng.randrange(12),
        "reported_at": rng.choice(["2024-11-06T03:10:01Z", "2024-11-05T21:10:01.250-06:00"]),
        "votes": {c: rng.randrange(1500) for c in CANDIDATES[: rng.randrange(2, 7)]},
        "complete": rng.random() < 0.7,
    }
    if i % 10 == 0:
        report.update(precinct_id=county, precincts_reporting=rng.randrange(400), precincts_total=400,
                      registered_voters=rng.randrange(10_000, 900_000))
    return report


def invalid_records(records: list[bytes]) -> list[bytes]:
    """The same records, each with a negative count: the dead-letter path, reasons and all."""
    return [raw.replace(b'"harris":', b'"harris":-1', 1) for raw in records]


def best_rate(decode: Callable[[bytes], object], records: list[bytes], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for raw in records:
            decode(raw)
        best = min(best, time.perf_counter() - start)
    return len(records) / best


def refuse(raw: bytes) -> None:
    try:
        decode_precinct_record(raw)
    except InvalidRecord:
        return
    raise AssertionError("an invalid record was accepted")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    records = realistic_records(args.records)
    print(f"command: {' '.join(sys.orig_argv)}")
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, orjson {orjson.__version__}")
    print(f"records: {len(records)}, mean {sum(map(len, records)) / len(records):.0f} bytes, best of {args.rounds}")
    for label, decode, data in [
        ("orjson.loads only (floor)", orjson.loads, records),
        ("decode_object", decode_object, records),
        ("decode_precinct_record", decode_precinct_record, records),
        ("decode_precinct_record, invalid", refuse, invalid_records(records)),
    ]:
        rate = best_rate(decode, data, args.rounds)
        print(f"{label:34s} {rate:12,.0f} records/s  {1e6 / rate:6.2f} µs each")
    return 0


if __name__ == "__main__":
    sys.exit(main())
