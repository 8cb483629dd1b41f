"""`votewire kafka` says what is wrong in one line when this machine lacks java or mvn."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def votewire(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], env={**base, **env},
                          capture_output=True, text=True, timeout=60, check=False)


def test_missing_java_is_one_clear_line(tmp_path: Path) -> None:
    done = votewire(["kafka", "start"], PATH=str(tmp_path), VOTEWIRE_DATA_DIR=str(tmp_path / "d"),
                    VOTEWIRE_BOOTSTRAP="127.0.0.1:1")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "votewire kafka: java not found: install Java 17+ (apt-get install openjdk-17-jre-headless) or set JAVA_HOME"]


def test_missing_mvn_with_no_cached_jars_is_one_clear_line(tmp_path: Path) -> None:
    java_home = Path(subprocess.run(["bash", "-c", "readlink -f $(command -v java)"], capture_output=True,
                                    text=True, check=True).stdout.strip()).parent.parent
    done = votewire(["kafka", "start"], PATH=str(tmp_path), JAVA_HOME=str(java_home),
                    VOTEWIRE_CACHE_DIR=str(tmp_path / "cache"), VOTEWIRE_DATA_DIR=str(tmp_path / "d"),
                    VOTEWIRE_BOOTSTRAP="127.0.0.1:1")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "votewire kafka: mvn not found: install Maven (apt-get install maven) to fetch the Kafka jars"]


def test_stop_and_status_when_nothing_runs(tmp_path: Path) -> None:
    stop = votewire(["kafka", "stop"], VOTEWIRE_DATA_DIR=str(tmp_path))
    assert (stop.returncode, stop.stdout.strip()) == (0, f"kafka is not running (data dir {tmp_path}/kafka)")
    status = votewire(["kafka", "status"], VOTEWIRE_DATA_DIR=str(tmp_path))
    assert status.returncode == 3
    assert "not running" in status.stdout


def test_commands_that_need_a_broker_say_so_when_none_answers(tmp_path: Path) -> None:
    for verb in (["topics", "create"], ["worker"]):
        done = votewire(verb, VOTEWIRE_BOOTSTRAP="127.0.0.1:1", VOTEWIRE_DATA_DIR=str(tmp_path))
        assert done.returncode == 1, done.stderr
        assert done.stderr.strip().splitlines() == [  # aiokafka's own retries no longer come first
            f"votewire {verb[0]}: no Kafka broker answers at 127.0.0.1:1 (Connection refused): is it running? "
            "(`votewire kafka start` starts a local one)"]
