"""When the worker's next round of checkpoints is due (streams.worker.checkpoint).

As soon as input goes quiet (no record since the last tick: the end of a burst, a night caught
up): nothing waits for the main thread then. While records flow, once `checkpoint_interval_s`
has passed since the last round began, and also `ENCODING_SPACING` times as long as that round
took to encode: a round holds up every record meanwhile, so encoding then takes at most about
1/ENCODING_SPACING of the main thread however large the state grows (re-encoding every unit at
every round, it took 13.5% of a worker catching up on the `full` preset, and more as the night
grew). Live, a round encodes only the tallies changed since the last (their entries are kept),
far less than the interval's worth, and the interval alone sets the pace.

The price of a longer gap is paid after a crash: the log between the last checkpoint and the
commit is read again, up to ENCODING_SPACING times the last encoding's duration of records more
than the interval alone would leave (seconds of catch-up for a round that took a fraction of one).
"""

from __future__ import annotations

from dataclasses import dataclass

ENCODING_SPACING = 15.0


@dataclass
class CheckpointPace:
    interval_s: float  # Settings.checkpoint_interval_s
    began: float | None = None  # clock time of the last round's start (at first, of the first tick)
    encoding_s: float = 0.0  # how long the last round took to encode

    def due(self, now: float, quiet: bool) -> bool:
        """Whether a round starting `now` is due; `quiet`: no record came since the last tick."""
        if self.began is None:
            self.began = now  # the interval counts from the first tick with whole tallies
        return quiet or now - self.began >= max(self.interval_s, ENCODING_SPACING * self.encoding_s)

    def encoded(self, began: float, ended: float) -> None:
        """A round began at `began` and had its files' bytes at `ended`."""
        self.began, self.encoding_s = began, ended - began
