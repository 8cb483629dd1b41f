"""The source formats `votewire ingest` reads: each a module of this package, imported only when
chosen (so one format's missing dependency or work in progress never breaks the others),
exposing `add_arguments(parser)` and `records(args) -> Iterator[OutRecord]`."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, cast

from streams.adapters.base import ErrorSink
from streams.contract.recording import OutRecord, RecordingWriter
from streams.errors import ConfigError
from streams.progress import Progress

# format name -> module implementing it (`add_arguments(parser)`, `records(args)`)
FORMATS: dict[str, str] = {
    "mn-sos": "streams.adapters.mn_sos",
    "ap": "streams.adapters.ap",
    "ap-poll": "streams.adapters.ap_poll",
    "clarity": "streams.adapters.clarity",
    "openelections": "streams.adapters.openelections",
}


class Adapter(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...
    def records(self, args: argparse.Namespace, on_error: ErrorSink | None = None) -> Iterator[OutRecord]: ...


def load_adapter(name: str) -> Adapter:
    try:
        return cast(Adapter, importlib.import_module(FORMATS[name]))
    except ModuleNotFoundError as e:
        raise ConfigError(f"format {name!r} is not available in this build ({e})") from e


def write_recording(records: Iterator[OutRecord], out: Path, progress: bool) -> int:
    """Write `records` to `out`; the file appears only if one was written and nothing failed."""
    bar = Progress("ingest", enabled=progress)
    try:
        with RecordingWriter(out) as writer:
            for rec in records:
                writer.write(rec)
                bar.update(writer.count)
            return writer.count
    finally:
        bar.close()
