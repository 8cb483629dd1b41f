"""Reading a whole recording in a test, through the reader replay uses."""

from __future__ import annotations

from pathlib import Path

from streams.contract.recording import BadLine, RecordedLine, RecordingReader


def read_lines(path: Path) -> list[RecordedLine | BadLine]:
    """Every non-blank line of the recording at `path`, parsed; bad lines included."""
    with RecordingReader(path) as reader:
        return list(reader)
