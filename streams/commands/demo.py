"""`votewire demo`: the whole pipeline on one machine, replaying the bundled Minnesota night
(streams.localkafka.demo)."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from streams.localkafka.demo import BUNDLED_NIGHT, run_demo
from streams.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--file", type=Path, default=BUNDLED_NIGHT,
                        help="recording to replay (default: the bundled Minnesota 2024 night)")
    parser.add_argument("--speed", type=float, default=2000.0, help="replay speed factor (default 2000)")
    parser.add_argument("--max-gap", type=float, default=1.5, help="longest wait between records, s (default 1.5)")
    parser.add_argument("--exit-when-done", action="store_true",
                        help="stop everything once the final snapshot is printed (default: keep serving until Ctrl-C)")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the demo the way Ctrl-C does: children first


def run(args: argparse.Namespace, settings: Settings) -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    return run_demo(args, settings)
