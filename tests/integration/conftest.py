"""Integration fixtures: one real Kafka broker per test session, unique names per test.

The broker is the project's own (`streams.localkafka.kafka_local`), started on a free port with its data
in a temporary directory and a small heap, or an already running one named by
`VOTEWIRE_TEST_BOOTSTRAP`. Every wait in these tests has a deadline.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.localkafka import kafka_local
from streams.settings import Settings
from tests.integration.secure import SecureKafka, secure_broker

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("VOTEWIRE_TEST_BOOTSTRAP")
    if given:
        yield given
        return
    data_dir = tmp_path_factory.mktemp("kafka")
    port = kafka_local.free_port()
    settings = Settings.from_env(bootstrap=f"127.0.0.1:{port}", data_dir=str(data_dir), kafka_heap="384m")
    broker = kafka_local.LocalBroker(settings)
    print(kafka_local.start(broker))
    try:
        yield broker.bootstrap
    finally:
        print(kafka_local.stop(broker))


@pytest.fixture(scope="session")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureKafka]:
    """A second broker, only for the security tests: SASL_SSL with SCRAM users, ACLs enforced."""
    broker = secure_broker(tmp_path_factory.mktemp("secure-kafka"))
    assert broker.security is not None
    print(kafka_local.start(broker))
    try:
        yield SecureKafka(broker, dict(broker.security.users))
    finally:
        print(kafka_local.stop(broker))


@pytest.fixture
def unique() -> str:
    """A short unique token for topic prefixes, group ids and app ids of one test."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def settings(kafka_bootstrap: str, unique: str, tmp_path: Path) -> Settings:
    """Settings for one test: its own topic prefix, app id and data dir on the session broker."""
    return Settings.from_env(
        {}, bootstrap=kafka_bootstrap, topic_prefix=f"t{unique}.", app_id=f"votewire-{unique}",
        data_dir=str(tmp_path / "data"), publish_interval_s=0.1, partitions=2)


def run_async(coro: object, deadline_s: float = 60.0) -> object:
    """Run a coroutine with a deadline, so no test can hang."""
    return asyncio.run(asyncio.wait_for(coro, deadline_s))  # type: ignore[arg-type]
