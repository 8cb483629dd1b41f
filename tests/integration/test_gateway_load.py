"""The gateway-load fault scenario, short: 200 stream clients held and 10 that never read while
wrk hammers the API, against the session's broker and a worker fed a simulated night
(faults/gateway_load.py; `python -m faults.gateway_load` runs the full 1,000-client version)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from faults import gateway_load


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is a system dependency: make system-deps")
def test_the_gateway_holds_its_stream_clients_drops_the_slow_ones_and_still_serves(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    result = gateway_load.run(seed=2, bootstrap=kafka_bootstrap, clients=200, slow_clients=10, wrk_seconds=5,
                              wrk_connections=16, work_dir=tmp_path)
    assert result["sse_clients_held"] == 200, result
    assert result["slow_clients_dropped"] == 10, result  # each with a log line and the counter
    assert result["fresh_http_served"], result
    assert result["fresh_stream_served"], result
    assert result["wrk"]["answered"] > 0, result
    assert result["passed"], result
