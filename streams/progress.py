"""A one-line progress bar on stderr for long commands (replay, record, ingest).

It draws only when stderr is a terminal, so logs and pipes get no carriage-return noise, and
redraws at most a few times a second, so a command sending 100k records/s does not spend its
time drawing. The final summary line is the command's job, not the bar's.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

REDRAW_EVERY_S = 0.2
BAR_WIDTH = 24


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def render(label: str, done: int, elapsed_s: float, fraction: float | None, note: str = "") -> str:
    """`replay  12,345 records  8,100/s  [######....]  45%  ETA 0:12  note`"""
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    parts = [label, f"{done:,} records", f"{rate:,.0f}/s"]
    if fraction is not None:
        filled = int(BAR_WIDTH * fraction)
        parts.append(f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {100 * fraction:3.0f}%")
        if 0 < fraction < 1:
            parts.append(f"ETA {format_duration(elapsed_s * (1 - fraction) / fraction)}")
    if note:
        parts.append(note)
    return "  ".join(parts)


class Progress:
    """Call `update` as often as you like; it redraws when due. `close` clears the line."""

    def __init__(self, label: str, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._width = 0

    @property
    def due(self) -> bool:
        """Whether an update now would draw: lets a hot loop skip computing its arguments."""
        return self.enabled and time.monotonic() - self._last_draw >= REDRAW_EVERY_S

    def update(self, done: int, fraction: float | None = None, note: str = "") -> None:
        now = time.monotonic()
        if not self.enabled or now - self._last_draw < REDRAW_EVERY_S:
            return
        self._last_draw = now
        self._draw(render(self.label, done, now - self.started, fraction, note))

    def print_line(self, text: str) -> None:
        """A message (a bad line, a warning) printed above the bar without garbling it."""
        self.clear()
        print(text, file=self.stream, flush=True)

    def clear(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0

    def close(self) -> None:
        self.clear()

    def _draw(self, line: str) -> None:
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = len(line)
