"""kcat, a client that is not ours, reads what the worker published, as newsroom systems would.

Its `-J` envelopes carry each record's JSON verbatim; every state and county snapshot the
worker wrote for the bundled Minnesota night must validate against the contract's schemas.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from streams.kafka.replay import replay_files
from streams.localkafka.demo import BUNDLED_NIGHT
from streams.settings import Settings
from tests.integration.harness import run, running_worker
from tests.integration.test_worker_mn import wait_for_official

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def kcat_read(settings: Settings, topic: str) -> list[dict[str, Any]]:
    exe = shutil.which("kcat")
    if exe is None:
        pytest.fail("kcat not found: run deploy/install-system-deps.sh")
    done = subprocess.run([exe, "-C", "-b", settings.bootstrap, "-t", topic, "-J", "-e", "-q", "-o", "beginning"],
                          capture_output=True, text=True, timeout=60, check=True)
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def test_kcat_reads_worker_snapshots_that_match_the_schemas(settings: Settings, tmp_path: Path) -> None:
    with running_worker(settings, tmp_path / "worker.log") as worker:
        run(replay_files(settings, [BUNDLED_NIGHT], speed=None, max_gap=None, progress=False))
        wait_for_official(settings, worker)
    for topic, schema_name in (("state-results", "state-result"), ("county-results", "county-result")):
        envelopes = kcat_read(settings, settings.topic(topic))
        assert envelopes, f"kcat read nothing from {topic}"
        schema = json.loads((SCHEMAS / f"{schema_name}.schema.json").read_text())
        for envelope in envelopes:
            snapshot = json.loads(envelope["payload"])
            jsonschema.validate(snapshot, schema)
            mode = snapshot["mode"]
            county = f"/{snapshot['county_fips']}" if topic == "county-results" else ""
            assert envelope["key"] == f"2024-11-05/{snapshot['race_id']}/MN{county}/{mode}"
    finals = [json.loads(e["payload"]) for e in kcat_read(settings, settings.topic("state-results"))]
    assert max((s for s in finals if s["race_id"] == "president"), key=lambda s: s["version"])["readout"] == \
        "Harris 50.9% · Trump 46.7% · 100% of expected vote counted"
