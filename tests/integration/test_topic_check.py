"""A worker refuses topics whose settings would make its figures wrong, on the real broker: a log
that deletes by age or size, compaction where it drops records (or none where it must keep the
latest), more partitions than VOTEWIRE_PARTITIONS. One line each, exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams import contract
from streams.kafka.security import kafka_connection
from streams.kafka.topics import TopicSpec, check_topics, ensure_topics
from streams.localkafka.kafka_local import free_port
from streams.settings import Settings
from tests.integration.harness import run, votewire_env

DAY_MS = "86400000"


async def create(settings: Settings, topics: dict[str, tuple[int, dict[str, str]]]) -> None:
    """Topics as an operator (or an older version) may have made them: full names."""
    admin = AIOKafkaAdminClient(**kafka_connection(settings))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=count, replication_factor=1, topic_configs=configs)
                                   for name, (count, configs) in topics.items()])
    finally:
        await admin.close()


def rekeyed(settings: Settings) -> str:
    return f"{settings.topic(settings.app_id)}-precinct-results-rekeyed"


def test_topics_created_by_votewire_pass_the_check(settings: Settings) -> None:
    run(ensure_topics(settings, extra=(TopicSpec(rekeyed(settings), compact=False, log=True),)))
    assert run(check_topics(settings, extra=(TopicSpec(rekeyed(settings), compact=False, log=True),))) == []


def test_a_worker_refuses_to_start_on_topics_it_cannot_rely_on(settings: Settings) -> None:
    run(create(settings, {
        settings.topic(contract.PRECINCT_RESULTS): (settings.partitions + 1, {"retention.ms": DAY_MS}),
        rekeyed(settings): (settings.partitions, {"retention.ms": "-1", "retention.bytes": str(1 << 30)}),
        settings.topic(contract.RACE_DEFINITIONS): (settings.partitions, {"cleanup.policy": "delete"}),
        settings.topic(contract.RESULTS_ALERTS): (settings.partitions, {"cleanup.policy": "compact"}),
    }))
    env = votewire_env(settings, VOTEWIRE_WORKER_WEB_ADDR=f"127.0.0.1:{free_port()}")
    try:
        done = subprocess.run([sys.executable, "-m", "streams.cli", "worker"], env=env, capture_output=True,
                              text=True, timeout=120, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("the worker started on topics that would make its figures wrong")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    # Beside them, only the development broker's note that new topics get one replica.
    lines = [line for line in done.stderr.strip().splitlines() if "replication factor 1" not in line]
    p, n = settings.topic_prefix, settings.partitions
    assert [line.split(": ")[1] for line in lines] == [
        f"topic {p}race-definitions has cleanup.policy=delete, not compact",
        f"topic {p}precinct-results has retention.ms={DAY_MS}",
        f"topic {p}precinct-results has {n + 1} partitions but VOTEWIRE_PARTITIONS={n}",
        f"topic {p}results-alerts has cleanup.policy=compact",
        f"topic {rekeyed(settings)} has retention.bytes={1 << 30}",
    ]
    assert all(line.startswith("votewire worker: topic ") for line in lines)
