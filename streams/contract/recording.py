"""Recording files (the contract's record and replay format).

JSON Lines, optionally gzip (by the `.gz` suffix). One record a line:
`{"ts": <ms>, "topic": "<name>", "key": "<str or null>", "value": <JSON>}`, or `"payload":
"<string>"` instead of `value`, sent as its UTF-8 bytes verbatim (how `kcat -J` writes
records, so a kcat dump replays as it is; kcat's extra fields, like `partition` and `offset`,
are ignored, and its `"payload": null` is a tombstone). A bad line is reported with its
number and skipped.

A recording is written beside its final name (`.NAME.partial.jsonl[.gz]`) and renamed into
place only when it holds at least one record and nothing failed: a command that could not do
its job leaves no empty or half-written file, and never clobbers a good one.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, cast

import orjson

from streams.contract.validation import MAX_COUNT, MAX_DEPTH
from streams.errors import ConfigError


@dataclass(frozen=True, slots=True)
class OutRecord:
    """One record for a contract topic (name without prefix), as a recording line holds it."""

    ts_ms: int
    topic: str
    key: str | None
    value: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RecordedLine:
    """A good line: what to send, and where it came from."""

    line_no: int
    ts_ms: int
    topic: str
    key: str | None
    value: bytes | None  # exactly the bytes to send; None is a tombstone (deletes the key when compacted)


@dataclass(frozen=True, slots=True)
class BadLine:
    line_no: int
    reason: str


def text_writer(raw: IO[bytes], path: Path) -> IO[str]:
    """Text into `raw` for the recording `path`: gzip when `path` ends in `.gz`, with `path`'s name
    in the gzip header (`raw` may be the partial file under another name)."""
    if path.suffix != ".gz":
        return io.TextIOWrapper(cast(io.BufferedWriter, raw), encoding="utf-8", newline="\n")
    # mtime=0: the same records give the same bytes, so a regenerated bundle diffs clean.
    zipped = gzip.GzipFile(path.name, "wb", mtime=0, fileobj=raw)
    return io.TextIOWrapper(cast(IO[bytes], zipped), encoding="utf-8", newline="\n")


def parse_line(line_no: int, line: str | bytes) -> RecordedLine | BadLine:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        return BadLine(line_no, f"not JSON ({e})")
    if not isinstance(obj, dict):
        return BadLine(line_no, "not a JSON object")
    ts, topic, key = obj.get("ts"), obj.get("topic"), obj.get("key")
    if not isinstance(ts, int) or isinstance(ts, bool) or not 0 <= ts <= MAX_COUNT:
        return BadLine(line_no, f"'ts' must be an integer (ms since epoch) from 0 to 2^53 ({MAX_COUNT})")
    if not isinstance(topic, str) or not topic:
        return BadLine(line_no, "'topic' must be a non-empty string")
    if key is not None and not isinstance(key, str):
        return BadLine(line_no, "'key' must be a string or null")
    if "payload" in obj:
        payload = obj["payload"]
        if payload is not None and not isinstance(payload, str):
            return BadLine(line_no, "'payload' must be a string (or null for a tombstone)")
        return RecordedLine(line_no, ts, topic, key, None if payload is None else payload.encode("utf-8"))
    if "value" not in obj:
        return BadLine(line_no, "neither 'value' nor 'payload'")
    try:
        value = orjson.dumps(obj["value"])
    except orjson.JSONEncodeError:  # orjson reads 1,024 levels of nesting but writes 254
        return BadLine(line_no, f"'value' nests deeper than {MAX_DEPTH} levels of arrays and objects")
    return RecordedLine(line_no, ts, topic, key, value)


class RecordingReader:
    """Iterates a recording's parsed lines and knows how far through the file it is.

    Lines are read as bytes (orjson checks the UTF-8 itself, so a line with bad bytes is one
    bad line, not a crash), and `fraction_read` follows the position in the file on disk, so
    a gzip recording gets a progress estimate without being read twice.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self._raw: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed by close()/__exit__
        # GzipFile is a BinaryIO at runtime; typeshed types it apart from IO[bytes].
        self._lines = cast(IO[bytes], gzip.GzipFile(fileobj=self._raw)) if path.suffix == ".gz" else self._raw
        self.line_no = 0

    def __iter__(self) -> Iterator[RecordedLine | BadLine]:
        for line in self._lines:
            self.line_no += 1
            if line.strip():
                yield parse_line(self.line_no, line)

    @property
    def fraction_read(self) -> float:
        return min(1.0, self._raw.tell() / self.size) if self.size else 1.0

    def close(self) -> None:
        self._lines.close()
        self._raw.close()

    def __enter__(self) -> RecordingReader:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def partial_path(path: Path) -> Path:
    """Where `path` is written until it is complete: hidden, beside it, with the same last suffix."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


def check_writable(path: Path) -> None:
    """A `ConfigError` now, naming `path`, when a file cannot be written there: before the work
    that would fill it (a national night takes minutes), not after."""
    partial = partial_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.touch()
        partial.unlink()
    except OSError as e:
        raise ConfigError(f"{path}: cannot write there ({e.strerror or e})") from None


@contextlib.contextmanager
def replaced_on_success(path: Path) -> Iterator[Path]:
    """A partial path to write; renamed to `path` when the block ends without an error, else removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(path)
    try:
        yield partial
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)


class RecordingWriter:
    """Writes `OutRecord`s (or raw payload lines) to a recording file; gzip for `.gz`.

    The file appears at `path` on a clean close with at least one record (see the module's doc)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.partial = partial_path(path)
        self._raw: IO[bytes] = open(self.partial, "wb")  # noqa: SIM115 - closed by close()
        self._file = text_writer(self._raw, path)
        self.count = 0

    def write(self, rec: OutRecord) -> None:
        self._write_obj({"ts": rec.ts_ms, "topic": rec.topic, "key": rec.key, "value": rec.value})

    def write_payload(self, ts_ms: int, topic: str, key: str | None, payload: str | None) -> None:
        self._write_obj({"ts": ts_ms, "topic": topic, "key": key, "payload": payload})

    def _write_obj(self, obj: dict[str, Any]) -> None:
        self._file.write(orjson.dumps(obj).decode())
        self._file.write("\n")
        self.count += 1

    def close(self, failed: bool = False) -> None:
        """Close, and put the file in place; or drop it when it failed or holds no record."""
        self._file.close()
        self._raw.close()  # a GzipFile leaves the file it was given open
        if self.count and not failed:
            os.replace(self.partial, self.path)
        else:
            self.partial.unlink(missing_ok=True)

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close(failed=e is not None)
