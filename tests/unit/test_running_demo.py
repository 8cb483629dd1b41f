"""demo.json: what a running `votewire demo` leaves for `votewire watch`, and only while it runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from streams.localkafka.running_demo import announced, demo_file, running_demo
from streams.settings import Settings


def test_announced_while_running_and_removed_after(tmp_path: Path) -> None:
    settings = Settings.from_env({}, data_dir=str(tmp_path), topic_prefix="demo1.", bootstrap="127.0.0.1:9999")
    assert running_demo(settings) is None
    with announced(settings, "http://127.0.0.1:8080") as demo:
        assert running_demo(settings) == demo
        assert (demo.bootstrap, demo.topic_prefix) == ("127.0.0.1:9999", "demo1.")
    assert not demo_file(settings).exists()


def test_the_file_of_a_demo_that_is_gone_or_not_ours_is_ignored(tmp_path: Path) -> None:
    settings = Settings.from_env({}, data_dir=str(tmp_path))
    gone = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout)
    demo_file(settings).write_bytes(orjson.dumps({"bootstrap": "b:1", "topic_prefix": "p.", "board": "x", "pid": gone}))
    assert running_demo(settings) is None  # killed with SIGKILL: its file stayed, its process did not
    for junk in (b"{", b"[]", b'{"pid": 1}'):
        demo_file(settings).write_bytes(junk)
        assert running_demo(settings) is None
