"""A bounded, seeded fuzz run on the wire decoder and the recording parser.

    python -m faults.fuzz_decoder --seconds 30 --seed 1

Every input must get a verdict: a decoded message, or `InvalidRecord` (a dead letter) from
the decoders, a `RecordedLine` or `BadLine` from the recording parser. Any other exception
is a crash: the input is written to `--crash-dir` and the run exits 1.

Inputs are structure-aware mutations of valid messages (the four input schemas and a
recording line): a field replaced by a hostile value (huge and negative integers, integers
past 2^64 that JSON readers turn into floats, long strings, lone surrogates, nesting deeper
than the encoder can write back, batches and polls of many elements), fields dropped, and byte-level
damage (flips, cuts, splices, stray BOMs). The same seed gives the same inputs, so a crash
found once can be found again. atheris installs here but would fuzz only coverage of pure
Python paths through orjson's C parser; the structure of our messages is what matters, and a
seeded mutator reproduces without a libFuzzer corpus.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from streams import contract
from streams.contract import recording
from streams.errors import InvalidRecord

REPORT: dict[str, Any] = {
    "schema": "precinct-result/1", "election_id": "2024-11-05", "race_id": "president", "state": "MN",
    "county_fips": "27053", "precinct_id": "27053-0001", "seq": 3, "reported_at": "2024-11-06T02:10:00Z",
    "votes": {"harris": 120, "trump": 80}, "complete": False, "mode": "live",
    "precincts_reporting": 1, "precincts_total": 2, "registered_voters": 900,
}
UNIT = {k: v for k, v in REPORT.items() if k not in ("schema", "election_id", "race_id", "state", "mode")}
BATCH: dict[str, Any] = {
    "schema": "precinct-batch/1", "election_id": "2024-11-05", "race_id": "president", "state": "MN",
    "mode": "live", "reports": [UNIT, {**UNIT, "precinct_id": "27053-0002", "seq": 1}],
}
POLL: dict[str, Any] = {
    "schema": "state-poll/1", "election_id": "2024-11-05", "state": "MN", "mode": "live",
    "races": [{"race_id": "president", "reports": BATCH["reports"]}, {"race_id": "senate", "reports": [UNIT]}],
}
DEFINITION: dict[str, Any] = {
    "schema": "race-definition/1", "election_id": "2024-11-05", "race_id": "president", "state": "MN",
    "office": "U.S. President", "precincts_total": 4100, "polls_close": "2024-11-06T02:00:00Z", "certified": False,
    "candidates": [{"candidate_id": "harris", "name": "Kamala Harris", "party": "DEM", "short_name": "Harris"},
                   {"candidate_id": "trump", "name": "Donald Trump", "party": "REP"}],
    "previous": [{"election_id": "2020-11-03", "shares": {"DEM": 52.4, "REP": 45.3}}],
}
EXPECTED: dict[str, Any] = {
    "schema": "expected-vote/1", "election_id": "2024-11-05", "race_id": "president", "state": "MN",
    "expected_votes": 3_200_000, "county_expected": {"27053": 700_000}, "seq": 2,
    "issued_at": "2024-11-06T01:00:00Z",
}
LINE: dict[str, Any] = {"ts": 1_730_858_000_000, "topic": "precinct-results",
                        "key": "2024-11-05/president/MN", "value": REPORT}

MAX_INPUT_BYTES = 3 << 20  # past the 1 MiB payload limit, and no further: time goes to variety
HOSTILE_SCALARS: list[Any] = [
    None, True, False, 0, -1, 1.0, 0.5, -0.0, 1e308, 2**53, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1,
    -(2**63), "", " ", "x" * 256, "x" * 257, "x" * 1025, "\u00e9" * 300_000, "\u0000", "2024-11-06T02:10:00",
    "2024-13-40T99:99:99Z",
    "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "NaN", "\U0001f5f3", "a/b/c", [], {},
]
# Raw JSON number texts that no Python value encodes to: past 2^64, past a double's range.
HOSTILE_NUMBERS = [b"18446744073709551616", b"-18446744073709551617", b"1e400", b"-1e400", b"1" * 400,
                   b"NaN", b"Infinity", b"-0", b"1E2", b"0.0000000001e-400"]
HOSTILE_BYTES = [b"\xef\xbb\xbf", b"\x00", b"\xff\xfe", b"\xed\xa0\x80", b'"\\ud800"', b"{", b"}", b"[", b"]",
                 b",", b":", b'"', b"\\", b"\n", b"null"]


def nested(depth: int) -> bytes:
    """A list nested `depth` deep, as JSON text (orjson writes at most 254 levels back)."""
    return b"[" * depth + b"]" * depth


class Mutator:
    """Seeded mutations of the valid templates; `next()` returns (target name, input bytes)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def next(self) -> tuple[str, bytes]:
        target = self.rng.choice(list(TARGETS))
        template = LINE if target == "recording-line" else self.rng.choice(TEMPLATES[target])
        raw = self.structured(template)
        for _ in range(self.rng.choice((0, 0, 0, 0, 0, 1, 2, 8))):
            raw = self.damage(raw)
        return target, raw

    def structured(self, template: dict[str, Any]) -> bytes:
        obj = orjson.loads(orjson.dumps(template))
        marker = "\u2063MARK\u2063"  # replaced by raw JSON text that no Python value encodes to
        for _ in range(self.rng.randint(0, 4)):
            self.mutate_somewhere(obj, marker)
        # One pass: a marker copied 40,000 times by `many` made a replace-one-at-a-time loop
        # quadratic (the final `make faults` run hung in it for minutes).
        parts = orjson.dumps(obj).split(b'"' + marker.encode() + b'"')
        return parts[0] + b"".join(self.raw_value() + part for part in parts[1:])

    def raw_value(self) -> bytes:
        roll = self.rng.random()
        if roll < 0.5:
            return self.rng.choice(HOSTILE_NUMBERS)
        return nested(self.rng.choice((2, 40, 64, 65, 200, 254, 255, 256, 1000, 1023, 1024, 1100)))

    def mutate_somewhere(self, obj: Any, marker: str) -> None:
        container, key = self.pick_slot(obj)
        roll = self.rng.random()
        if roll < 0.15 and isinstance(container, dict):
            container.pop(key, None)
        elif roll < 0.25:
            container[key] = marker
        elif roll < 0.35:
            container[key] = self.many(container[key] if key in container or isinstance(container, list) else None)
        else:
            container[key] = self.rng.choice(HOSTILE_SCALARS)

    def many(self, value: Any) -> Any:
        """A big version of a container: many copies of its elements, or many keys."""
        count = self.rng.choice((257, 1_001, 10_000, 10_001, 40_000))
        if isinstance(value, list) and value:
            # At most a few MiB in all: past the payload limit is enough to test it.
            return [value[0]] * min(count, MAX_INPUT_BYTES // len(orjson.dumps(value[0])))
        return {f"k{i}": i for i in range(count)}

    def pick_slot(self, obj: Any) -> tuple[Any, Any]:
        """A random (container, key or index) inside `obj`, the root's fields included."""
        container: Any = obj
        while True:
            keys = list(container) if isinstance(container, dict) else list(range(len(container)))
            if not keys:
                return container, "extra"
            key = self.rng.choice(keys) if self.rng.random() > 0.1 else "extra"
            child = container[key] if key in keys else None
            if isinstance(child, dict | list) and child and self.rng.random() < 0.6:
                container = child
                continue
            if isinstance(container, list) and key == "extra":
                return container, 0
            return container, key

    def damage(self, raw: bytes) -> bytes:
        if not raw:
            return self.rng.choice(HOSTILE_BYTES)
        at = self.rng.randrange(len(raw))
        roll = self.rng.random()
        if roll < 0.3:
            return raw[:at] + bytes([self.rng.randrange(256)]) + raw[at + 1:]
        if roll < 0.5:
            return raw[:at]
        if roll < 0.8:
            return raw[:at] + self.rng.choice(HOSTILE_BYTES) + raw[at:]
        end = self.rng.randrange(at, len(raw))
        return (raw[:at] + raw[at:end] * self.rng.randint(2, 50) + raw[end:])[:MAX_INPUT_BYTES]


def check_precinct_record(raw: bytes) -> str:
    record = contract.decode_precinct_record(raw)
    for refused in record.refused:  # each refused element must itself be a writable dead letter
        if not isinstance(refused.value, bytes) or not refused.error.reason or not refused.index:
            raise AssertionError(f"refused element {refused.index} has no bytes or no reason")
    return "ok"


def check_recording_line(raw: bytes) -> str:
    parsed = recording.parse_line(1, raw)
    return "ok" if isinstance(parsed, recording.RecordedLine) else "bad_line"


TARGETS: dict[str, Callable[[bytes], object]] = {
    "precinct-results": check_precinct_record,
    "race-definitions": contract.decode_race_definition,
    "expected-votes": contract.decode_expected_vote,
    "recording-line": check_recording_line,
}
TEMPLATES: dict[str, list[dict[str, Any]]] = {
    "precinct-results": [REPORT, BATCH, POLL], "race-definitions": [DEFINITION], "expected-votes": [EXPECTED],
    "recording-line": [LINE],
}


def verdict(target: str, raw: bytes) -> str:
    """The verdict's kind (`ok`, a dead-letter kind, `bad_line`); any other exception propagates."""
    try:
        result = TARGETS[target](raw)
    except InvalidRecord as refusal:
        return refusal.kind
    return result if isinstance(result, str) else "ok"


def write_crash(crash_dir: Path, seed: int, n: int, target: str, raw: bytes, error: BaseException) -> Path:
    crash_dir.mkdir(parents=True, exist_ok=True)
    path = crash_dir / f"crash-{target}-seed{seed}-{n}.bin"
    path.write_bytes(raw)
    path.with_suffix(".txt").write_text("".join(traceback.format_exception(error)))
    return path


def fuzz(seconds: float, seed: int, crash_dir: Path, progress_s: float = 5.0) -> int:
    """Run for `seconds`; 0 when every input got a verdict, 1 on the first crash."""
    mutator = Mutator(seed)
    kinds: Counter[str] = Counter()
    start = last = time.monotonic()
    n = 0
    while time.monotonic() - start < seconds:
        target, raw = mutator.next()
        n += 1
        try:
            kinds[verdict(target, raw)] += 1
        except Exception as error:
            path = write_crash(crash_dir, seed, n, target, raw, error)
            print(f"fuzz_decoder: CRASH on input {n} ({target}): {error!r}; input in {path}", file=sys.stderr)
            return 1
        if time.monotonic() - last >= progress_s:
            last = time.monotonic()
            print(f"fuzz_decoder: {n} inputs in {last - start:.0f} s, verdicts {dict(kinds.most_common(6))}",
                  flush=True)
    print(f"fuzz_decoder: no crash in {n} inputs ({time.monotonic() - start:.0f} s, seed {seed}); "
          f"verdicts {dict(kinds.most_common())}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m faults.fuzz_decoder",
        description="Fuzz the wire decoder and the recording parser for a bounded time. Exit 0 when every "
                    "input got a verdict (decoded or refused as a dead letter), 1 on a crash, with the "
                    "input written to --crash-dir.")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to run (default 30)")
    parser.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same inputs")
    parser.add_argument("--crash-dir", type=Path, default=Path("faults/results"),
                        help="where a crashing input is written (default faults/results)")
    parser.add_argument("--progress", type=float, default=5.0, help="seconds between progress lines (default 5)")
    args = parser.parse_args(argv)
    try:
        return fuzz(args.seconds, args.seed, args.crash_dir, args.progress)
    except KeyboardInterrupt:
        print("fuzz_decoder: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
