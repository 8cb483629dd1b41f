from __future__ import annotations

import os
import subprocess
import sys

import pytest

from streams.errors import ConfigError
from streams.settings import Settings


def test_settings_read_from_a_mapping_and_flags_override() -> None:
    s = Settings.from_env({"VOTEWIRE_BOOTSTRAP": "10.0.0.1:9093", "VOTEWIRE_PARTITIONS": "8",
                           "VOTEWIRE_GATEWAY_SHOW_TEST": "yes"}, topic_prefix="staging.")
    assert (s.bootstrap, s.partitions, s.gateway_show_test) == ("10.0.0.1:9093", 8, True)
    assert s.topic("state-results") == "staging.state-results"
    assert s.host_port == ("10.0.0.1", 9093)


def test_a_bad_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="VOTEWIRE_PARTITIONS='many'"):
        Settings.from_env({"VOTEWIRE_PARTITIONS": "many"})
    with pytest.raises(ConfigError, match="VOTEWIRE_BOOTSTRAP"):
        _ = Settings.from_env({"VOTEWIRE_BOOTSTRAP": "nohost"}).host_port


def test_the_private_ports_bind_loopback_by_default_and_can_be_moved() -> None:
    """Design rule 8: the worker's web port (metrics, health) and the gateway are loopback unless told."""
    defaults = Settings.from_env({})
    assert defaults.worker_web_addr.startswith("127.0.0.1:")
    assert defaults.gateway_addr.startswith("127.0.0.1:")
    moved = Settings.from_env({"VOTEWIRE_WORKER_WEB_ADDR": "0.0.0.0:7000", "VOTEWIRE_GATEWAY_CORS_ORIGINS": "none",
                               "VOTEWIRE_GATEWAY_IDLE_TIMEOUT_S": "5"})
    assert (moved.worker_web_addr, moved.gateway_cors_origins, moved.gateway_idle_timeout_s) == (
        "0.0.0.0:7000", "none", 5.0)


def test_a_worker_with_a_malformed_web_address_stops_at_once_with_one_error() -> None:
    # Before: faust started, and the private web task failed and logged a traceback every second.
    env = {**os.environ, "VOTEWIRE_WORKER_WEB_ADDR": "127.0.0.1:0", "VOTEWIRE_BOOTSTRAP": "127.0.0.1:1"}
    done = subprocess.run([sys.executable, "-m", "streams.cli", "worker"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "VOTEWIRE_WORKER_WEB_ADDR" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
