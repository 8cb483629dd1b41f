"""The night's recording lines: bytes made once per record, sorted by delivery time at the end.

Each line gets an integer sort key `(ts - base_ms) << SERIAL_BITS | serial`: time first, then
the order it was made in, so equal times keep generation order and bytes are never compared.
Relative to `base_ms` (election day) the key stays under 2**60, two CPython int digits, which
sorts ~3x faster than (ts, serial) tuples or absolute-time keys on the us preset's 1M lines.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from streams.errors import ConfigError

SERIAL_BITS = 24
SERIAL_MASK = (1 << SERIAL_BITS) - 1


@dataclass
class Lines:
    base_ms: int  # no line is earlier: election day, 00:00 UTC
    keys: list[int] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)
    malformed_count: int = 0  # the dead letters these lines make: malformed records and batch elements
    report_count: int = 0  # precinct reports sent (re-sent and malformed ones too), however packed

    def __len__(self) -> int:
        return len(self.lines)

    def add_line(self, ts_ms: int, line: bytes) -> None:
        self.keys.append((ts_ms - self.base_ms) << SERIAL_BITS | len(self.lines))
        self.lines.append(line)

    def add_value(self, ts_ms: int, topic: str, key: str, value: Any) -> None:
        self.add_line(ts_ms, b'{"ts":%d,"topic":"%s","key":"%s","value":%s}\n' % (
            ts_ms, topic.encode(), key.encode(), orjson.dumps(value)))

    def add_payload(self, ts_ms: int, topic: str, key: str, payload: str) -> None:
        self.add_line(ts_ms, orjson.dumps({"ts": ts_ms, "topic": topic, "key": key, "payload": payload}) + b"\n")
        self.malformed_count += 1

    def sort(self) -> None:
        """Sorts the keys, so that an `extend`ed whole sorts fast; the lines stay in
        generation order, which is what the keys point at."""
        self.keys.sort()

    def extend(self, other: Lines) -> None:
        """Appends `other`'s lines (same `base_ms`), after all of these in generation order."""
        offset = len(self.lines)
        self.keys += [k + offset for k in other.keys]
        self.lines += other.lines
        self.malformed_count += other.malformed_count
        self.report_count += other.report_count
        self._check_size()

    def in_time_order(self, per_chunk: int) -> Iterator[bytes]:
        """The lines by time, joined `per_chunk` at a time. Fast when the keys are a few sorted
        runs (`sort`ed parts): list.sort merges runs in about linear time."""
        self._check_size()
        self.keys.sort()
        keys, lines = self.keys, self.lines
        for start in range(0, len(keys), per_chunk):
            yield b"".join([lines[k & SERIAL_MASK] for k in keys[start:start + per_chunk]])

    # Pickled (sent back by a worker process) as one joined blob and one array: pickling a
    # million small bytes objects one by one costs more than making them.
    def __getstate__(self) -> tuple[int, bytes, bytes, int, int]:
        return (self.base_ms, array("q", self.keys).tobytes(), b"".join(self.lines), self.malformed_count,
                self.report_count)

    def __setstate__(self, state: tuple[int, bytes, bytes, int, int]) -> None:
        self.base_ms, keys, blob, self.malformed_count, self.report_count = state
        self.keys = array("q", keys).tolist()
        self.lines = blob.splitlines(keepends=True)  # a record never holds a raw newline (JSON escapes it)
        if len(self.lines) != len(self.keys):
            raise ValueError(f"{len(self.keys):,} records came back as {len(self.lines):,} lines")

    def _check_size(self) -> None:
        if len(self.lines) > SERIAL_MASK:
            raise ConfigError(f"{len(self.lines):,} records: a night holds at most {SERIAL_MASK:,}")
