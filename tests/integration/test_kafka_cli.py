"""`votewire kafka start|stop|status` on a second real broker: twice, when stopped, port taken."""

from __future__ import annotations

import socket
from pathlib import Path

from streams.localkafka import kafka_local
from tests.unit.test_kafka_cli import votewire


def test_start_twice_status_stop_twice_and_port_freed(tmp_path: Path) -> None:
    port = kafka_local.free_port()
    env = {"VOTEWIRE_DATA_DIR": str(tmp_path), "VOTEWIRE_BOOTSTRAP": f"127.0.0.1:{port}", "VOTEWIRE_KAFKA_HEAP": "256m"}
    try:
        first = votewire(["kafka", "start"], **env)
        assert first.returncode == 0, first.stderr
        assert first.stdout.startswith(f"kafka ready at 127.0.0.1:{port}")
        again = votewire(["kafka", "start"], **env)
        assert (again.returncode, again.stdout.split(" (")[0]) == (0, f"kafka already running at 127.0.0.1:{port}")
        status = votewire(["kafka", "status"], **env)
        assert status.returncode == 0
        assert status.stdout.startswith("kafka ready")
    finally:
        stop = votewire(["kafka", "stop"], **env)
    assert stop.returncode == 0
    assert f"127.0.0.1:{port} is free" in stop.stdout
    assert not kafka_local.port_in_use("127.0.0.1", port)
    assert "not running" in votewire(["kafka", "stop"], **env).stdout


def test_a_port_taken_by_another_process_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        done = votewire(["kafka", "start"], VOTEWIRE_DATA_DIR=str(tmp_path), VOTEWIRE_BOOTSTRAP=f"127.0.0.1:{port}")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"votewire kafka: port {port} on 127.0.0.1 is already in use by another process: stop it, "
        f"or set VOTEWIRE_BOOTSTRAP=127.0.0.1:<free port>"]
