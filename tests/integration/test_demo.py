"""`votewire demo` (what `make demo` runs): worker, gateway, the bundled night, live readouts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from streams.localkafka import kafka_local
from streams.localkafka.running_demo import DEMO_FILE
from streams.settings import Settings
from tests.integration.harness import votewire_env


def test_demo_prints_readouts_climbing_to_the_official_result(settings: Settings, tmp_path: Path) -> None:
    env = votewire_env(settings, VOTEWIRE_GATEWAY_ADDR=f"127.0.0.1:{kafka_local.free_port()}",
                       VOTEWIRE_WORKER_WEB_ADDR=f"127.0.0.1:{kafka_local.free_port()}")
    done = subprocess.run([sys.executable, "-m", "streams.cli", "demo", "--exit-when-done", "--speed", "3000",
                           "--max-gap", "0.1"], env=env, capture_output=True, text=True, timeout=420, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr == ""  # no warning: a single development broker is what the demo expects
    lines = done.stdout.splitlines()
    president = [line for line in lines if " MN president " in line and "% of expected vote counted" in line]
    assert len(president) >= 10, done.stdout[-2000:]
    counted = [int(line.rsplit("· ", 1)[1].split("%")[0]) for line in president]
    assert counted[0] < 50 < counted[-1]  # the count climbs through the night
    assert president[-1].endswith("Harris 50.9% · Trump 46.7% · 100% of expected vote counted")
    assert f"using the Kafka broker at {settings.bootstrap}" in done.stdout
    [watch] = [line for line in lines if line.startswith("watch it in another terminal: ")]
    assert watch.endswith(f" watch --bootstrap {settings.bootstrap} --topic-prefix {settings.topic_prefix} "
                          "--race president --state MN")
    assert not (Path(settings.data_dir) / DEMO_FILE).exists()  # there only while the demo runs
