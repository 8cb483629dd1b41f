"""Probe races: how recovery is seen from outside, as a newsroom would see it.

One small race per input partition (`faults-probe-N` in DE, a state the night does not use)
whose home partition is N. After a fault ends, the harness sends each probe race a report
with the next `seq` (its total votes = that seq); the fault is over, for the reader, when
every probe's state snapshot shows it: every partition is owned, rebuilt, counting and
publishing again. The probes are extra keys: the oracle compares the truth's keys only.
"""

from __future__ import annotations

import orjson
from aiokafka import AIOKafkaProducer

from streams.kafka.topics import key_hash
from streams.settings import Settings

ELECTION, STATE = "2024-11-05", "DE"
CANDIDATES = [{"candidate_id": "probe-a", "name": "Probe A", "party": "DEM"},
              {"candidate_id": "probe-b", "name": "Probe B", "party": "REP"}]


def probe_races(partitions: int) -> list[str]:
    """One race id per partition, in partition order: its race key's home is that partition."""
    found: dict[int, str] = {}
    i = 0
    while len(found) < partitions:
        race = f"faults-probe-{i}"
        found.setdefault(key_hash(f"{ELECTION}/{race}/{STATE}".encode()) % partitions, race)
        i += 1
    return [found[p] for p in range(partitions)]


def snapshot_keys(partitions: int) -> list[str]:
    return [f"{ELECTION}/{race}/{STATE}/live" for race in probe_races(partitions)]


def _definition(race: str) -> dict[str, object]:
    return {"schema": "race-definition/1", "election_id": ELECTION, "race_id": race, "state": STATE,
            "office": "Fault probe", "candidates": CANDIDATES, "precincts_total": 1,
            "polls_close": "2024-11-05T12:00:00Z", "certified": False}


def _report(race: str, seq: int) -> dict[str, object]:
    return {"schema": "precinct-result/1", "election_id": ELECTION, "race_id": race, "state": STATE,
            "county_fips": "10001", "precinct_id": "probe", "seq": seq, "reported_at": "2024-11-06T00:00:00Z",
            "votes": {"probe-a": seq, "probe-b": 0}, "complete": False}


async def send_definitions(settings: Settings) -> None:
    await _send(settings, "race-definitions", [_definition(r) for r in probe_races(settings.partitions)])


async def send_probes(settings: Settings, seq: int) -> None:
    await _send(settings, "precinct-results", [_report(r, seq) for r in probe_races(settings.partitions)])


async def _send(settings: Settings, topic: str, values: list[dict[str, object]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            key = f"{value['election_id']}/{value['race_id']}/{value['state']}".encode()
            await producer.send_and_wait(settings.topic(topic), orjson.dumps(value), key)
    finally:
        await producer.stop()
