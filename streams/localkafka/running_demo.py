"""Where a running `votewire demo` says what it runs on, so a plain `votewire watch` follows it.

The demo writes its topics under a fresh prefix (`demo1733456789.`) that nothing else knows.
Once its worker and gateway are ready it writes `$VOTEWIRE_DATA_DIR/demo.json` (bootstrap,
topic prefix, board address, its pid) and removes it when it stops. A file left by a demo that
was killed outright names a pid that is gone: it is ignored.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from streams.settings import Settings

DEMO_FILE = "demo.json"


@dataclass(frozen=True)
class RunningDemo:
    bootstrap: str
    topic_prefix: str
    board: str
    pid: int


def demo_file(settings: Settings) -> Path:
    return Path(settings.data_dir) / DEMO_FILE


@contextlib.contextmanager
def announced(settings: Settings, board: str) -> Iterator[RunningDemo]:
    """`demo.json` in the data dir while the block runs; removed after it (if still ours)."""
    demo = RunningDemo(settings.bootstrap, settings.topic_prefix, board, os.getpid())
    path = demo_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(asdict(demo)))
    try:
        yield demo
    finally:
        if running_demo(settings) == demo:  # a second demo on the same data dir may have replaced it
            path.unlink(missing_ok=True)


def running_demo(settings: Settings) -> RunningDemo | None:
    """The demo announced in the settings' data dir, if its process is still alive."""
    try:
        demo = RunningDemo(**orjson.loads(demo_file(settings).read_bytes()))
    except (OSError, orjson.JSONDecodeError, TypeError):  # none, or not one we wrote
        return None
    return demo if isinstance(demo.pid, int) and _alive(demo.pid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True
