"""Probe races: how recovery is seen from outside, as a newsroom would see it.

One small race per input partition (`probe` in DE, a state the night does not use, in an
election of its own, `faults-probe-N`) whose home partition is N: a race's home is its state
key's (design rule 3), so the probes differ by election. After a fault ends, the harness sends each probe race a report
with the next `seq` (its total votes = that seq); the fault is over, for the reader, when
every probe's state snapshot shows it: every partition is owned, rebuilt, counting and
publishing again. The probes are extra keys: the oracle compares the truth's keys only.
"""

from __future__ import annotations

import orjson
from aiokafka import AIOKafkaProducer

from streams.contract import race_key, state_key
from streams.kafka.topics import key_hash
from streams.settings import Settings

RACE, STATE = "probe", "DE"
CANDIDATES = [{"candidate_id": "probe-a", "name": "Probe A", "party": "DEM"},
              {"candidate_id": "probe-b", "name": "Probe B", "party": "REP"}]


def probe_elections(partitions: int) -> list[str]:
    """One election id per partition, in partition order: its state key's home is that partition."""
    found: dict[int, str] = {}
    i = 0
    while len(found) < partitions:
        election = f"faults-probe-{i}"
        found.setdefault(key_hash(state_key(election, STATE).encode()) % partitions, election)
        i += 1
    return [found[p] for p in range(partitions)]


def snapshot_keys(partitions: int) -> list[str]:
    return [f"{election}/{RACE}/{STATE}/live" for election in probe_elections(partitions)]


def _definition(election: str) -> dict[str, object]:
    return {"schema": "race-definition/1", "election_id": election, "race_id": RACE, "state": STATE,
            "office": "Fault probe", "candidates": CANDIDATES, "precincts_total": 1,
            "polls_close": "2024-11-05T12:00:00Z", "certified": False}


def _report(election: str, seq: int) -> dict[str, object]:
    return {"schema": "precinct-result/1", "election_id": election, "race_id": RACE, "state": STATE,
            "county_fips": "10001", "precinct_id": "probe", "seq": seq, "reported_at": "2024-11-06T00:00:00Z",
            "votes": {"probe-a": seq, "probe-b": 0}, "complete": False}


async def send_definitions(settings: Settings) -> None:
    await _send(settings, "race-definitions", [_definition(e) for e in probe_elections(settings.partitions)])


async def send_probes(settings: Settings, seq: int) -> None:
    await _send(settings, "precinct-results", [_report(e, seq) for e in probe_elections(settings.partitions)])


async def _send(settings: Settings, topic: str, values: list[dict[str, object]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            ids = str(value["election_id"]), str(value["race_id"]), str(value["state"])
            # Precinct results by state (design rule 3); a definition by its race.
            key = state_key(ids[0], ids[2]) if topic == "precinct-results" else race_key(*ids)
            await producer.send_and_wait(settings.topic(topic), orjson.dumps(value), key.encode())
    finally:
        await producer.stop()
