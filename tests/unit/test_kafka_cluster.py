"""The local cluster's layout and configuration, and how topics are replicated, without a broker.
(tests/integration/test_scale.py runs a real three-node cluster and kills a node of it.)"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from streams.errors import BrokerError, ConfigError
from streams.kafka.topics import replication_for
from streams.localkafka import kafka_cluster
from streams.settings import Settings
from tests.unit.test_kafka_cli import votewire


def properties(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))


def test_three_nodes_share_one_quorum_on_consecutive_ports_and_keep_their_layout(tmp_path: Path) -> None:
    cluster = kafka_cluster.LocalCluster(Settings.from_env({}, bootstrap="127.0.0.1:19092", data_dir=str(tmp_path)), 3)
    cluster_id, laid = kafka_cluster._lay_out(cluster)
    assert [(n.node_id, n.port) for n in laid] == [(1, 19092), (2, 19093), (3, 19094)]
    assert cluster.bootstrap == "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094"
    assert kafka_cluster._lay_out(cluster) == (cluster_id, laid)  # a restart of one node finds the same quorum
    configs = [properties(kafka_cluster._write_node_config(cluster, n, laid)) for n in laid]
    voters = {c["controller.quorum.voters"] for c in configs}
    assert voters == {",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in laid)}
    assert [c["node.id"] for c in configs] == ["1", "2", "3"]
    assert len({c["log.dirs"] for c in configs}) == 3  # one data directory each
    for c in configs:
        assert (c["offsets.topic.replication.factor"], c["min.insync.replicas"]) == ("3", "2")
        assert (c["transaction.state.log.replication.factor"], c["transaction.state.log.min.isr"]) == ("3", "2")


def test_production_replication_where_the_brokers_allow_it() -> None:
    settings = Settings()
    assert (settings.replication_factor, settings.min_insync_replicas) == (3, 2)
    assert replication_for(settings, 3) == (3, 2)
    assert replication_for(settings, 5) == (3, 2)


def test_a_single_development_broker_gets_one_copy_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="streams.kafka.topics"):
        assert replication_for(Settings(), 1) == (1, 1)
    assert "never for production" in caplog.text


def test_where_a_single_broker_is_expected_the_note_is_info_not_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """The demo runs on the development broker on purpose: its terminal shows no warning for it."""
    with caplog.at_level(logging.INFO, logger="streams.kafka.topics"):
        assert replication_for(Settings(), 1, single_broker_expected=True) == (1, 1)
    assert [(r.levelno, "never for production" in r.getMessage()) for r in caplog.records] == [(logging.INFO, True)]


def test_too_few_brokers_for_the_replication_is_an_error_not_a_quiet_downgrade() -> None:
    with pytest.raises(BrokerError, match=r"2 brokers answer .* fewer than VOTEWIRE_REPLICATION_FACTOR=3"):
        replication_for(Settings(), 2)
    with pytest.raises(ConfigError, match="VOTEWIRE_MIN_INSYNC_REPLICAS=4 must be between 1 and"):
        replication_for(Settings(min_insync_replicas=4), 5)


def test_no_cluster_means_stop_and_status_speak_of_the_single_broker(tmp_path: Path) -> None:
    assert kafka_cluster.existing(Settings.from_env({}, data_dir=str(tmp_path))) is None
    done = votewire(["kafka", "start", "--nodes", "0"], VOTEWIRE_DATA_DIR=str(tmp_path))
    assert (done.returncode, done.stderr.strip()) == (
        2, "votewire kafka: VOTEWIRE_KAFKA_NODES=0: must be a whole number, at least 1")  # checked with the settings
