"""kcat, a client that is not ours, reads `state-results` as newsroom systems would.

Its `-J` envelopes carry the snapshot JSON verbatim; when schemas/state-result.schema.json is
there, every snapshot must validate against it.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from streams.gateway.examples import state_result
from streams.settings import Settings
from streams.topics import ensure_topics

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "state-result.schema.json"
CONTRACT_FIELDS = {"election_id", "race_id", "state", "mode", "version", "as_of", "candidates", "total_votes",
                   "leader", "margin_votes", "margin_pct", "expected_votes", "pct_expected_counted",
                   "votes_remaining", "precincts_reporting", "precincts_total", "pct_precincts_reporting",
                   "swing", "out_of_reach", "certified", "readout"}


async def produce(settings: Settings, snapshots: list[dict[str, Any]]) -> None:
    await ensure_topics(settings)
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all")
    await producer.start()
    try:
        for s in snapshots:
            key = f"{s['election_id']}/{s['race_id']}/{s['state']}/{s['mode']}".encode()
            await producer.send_and_wait(settings.topic("state-results"), orjson.dumps(s), key=key)
    finally:
        await producer.stop()


def kcat_read(settings: Settings, topic: str) -> list[dict[str, Any]]:
    exe = shutil.which("kcat")
    if exe is None:
        pytest.fail("kcat not found: run deploy/install-system-deps.sh")
    done = subprocess.run([exe, "-C", "-b", settings.bootstrap, "-t", topic, "-J", "-e", "-q", "-o", "beginning"],
                          capture_output=True, text=True, timeout=60, check=True)
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def test_kcat_reads_state_results_that_match_the_contract(settings: Settings) -> None:
    sent = [state_result("MN", version=1), state_result("MN", version=2), state_result("WI", version=1)]
    asyncio.run(asyncio.wait_for(produce(settings, sent), 60))
    envelopes = kcat_read(settings, settings.topic("state-results"))
    assert len(envelopes) == 3
    snapshots = [json.loads(e["payload"]) for e in envelopes]
    assert sorted(snapshots, key=lambda s: (s["state"], s["version"])) == sent
    for envelope, snapshot in zip(envelopes, snapshots, strict=True):
        assert envelope["key"] == f"2024-11-05/president/{snapshot['state']}/live"
        assert set(snapshot) >= CONTRACT_FIELDS
    if SCHEMA.exists():
        schema = json.loads(SCHEMA.read_text())
        for snapshot in snapshots:
            jsonschema.validate(snapshot, schema)
