"""A local multi-node Apache Kafka cluster (KRaft): `votewire kafka start --nodes 3`.

The same jars as the single broker (`streams.localkafka.kafka_local`), run as N combined broker+controller
processes on loopback, one data directory each under `$VOTEWIRE_DATA_DIR/kafka-cluster/node-<id>`.
Node 1 listens on the port of `VOTEWIRE_BOOTSTRAP`, node k on that port + k - 1; the controller
ports are picked once and kept in `cluster.json` beside the nodes, so that one node can be killed
and started again alone (the cluster test does) and find the same quorum.

Every replicated thing is replicated as in production: Kafka's own internal topics (consumer
offsets, transactions) with replication factor min(3, N) and min ISR min(2, N), and votewire's
topics through `Settings.replication_factor` / `min_insync_replicas` (see `streams.kafka.topics`).
With three nodes, one can die and every producer (acks=all) and consumer carries on.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from streams.errors import SetupError
from streams.localkafka import kafka_local
from streams.localkafka.kafka_local import LocalBroker
from streams.settings import Settings

NODE_PROPERTIES = """\
# Written by `votewire kafka start --nodes {nodes}`; rewritten on every start of this node.
process.roles=broker,controller
node.id={node_id}
controller.quorum.voters={voters}
listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}
advertised.listeners=PLAINTEXT://{host}:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={log_dir}
num.partitions=1
# As in production: internal topics survive the loss of one node, and a write acknowledged
# with acks=all is on at least two of them.
default.replication.factor={replication}
min.insync.replicas={min_isr}
offsets.topic.replication.factor={replication}
offsets.topic.num.partitions=8
transaction.state.log.replication.factor={replication}
transaction.state.log.min.isr={min_isr}
share.coordinator.state.topic.replication.factor={replication}
share.coordinator.state.topic.min.isr={min_isr}
# A restarted node catches up and takes its partitions back as leader by itself.
auto.leader.rebalance.enable=true
leader.imbalance.check.interval.seconds=30
group.initial.rebalance.delay.ms=0
log.cleaner.enable=true
# The cleaner takes its dedupe buffer (128 MiB by default) from the heap at start: on a small
# heap a node restarted after a SIGKILL, busy recovering its logs, failed with it in
# LogCleaner.startup. The compacted topics here are small; 16 MiB dedupes ~500,000 keys.
log.cleaner.dedupe.buffer.size=16777216
auto.create.topics.enable=true
delete.topic.enable=true
"""


@dataclass(frozen=True)
class Node:
    node_id: int
    port: int
    controller_port: int


@dataclass(frozen=True)
class LocalCluster:
    """Where a local cluster keeps its files, and its nodes (read from `cluster.json`)."""

    settings: Settings
    size: int

    @property
    def home(self) -> Path:
        return Path(self.settings.data_dir) / "kafka-cluster"

    @property
    def layout_file(self) -> Path:
        return self.home / "cluster.json"

    @property
    def host(self) -> str:
        return self.settings.host_port[0]

    @property
    def bootstrap(self) -> str:
        return ",".join(f"{self.host}:{n.port}" for n in nodes(self))

    def broker(self, node: Node) -> LocalBroker:
        """The node as a `LocalBroker`: its own data dir and address, the shared jars and heap."""
        node_settings = self.settings.with_(bootstrap=f"{self.host}:{node.port}",
                                            data_dir=str(self.home / f"node-{node.node_id}"))
        return LocalBroker(node_settings)


def nodes(cluster: LocalCluster) -> list[Node]:
    """The cluster's nodes as first laid out (ports fixed for its lifetime), or a new layout."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        saved = json.loads(cluster.layout_file.read_text())
        return [Node(**n) for n in saved["nodes"]]
    _, first = cluster.settings.host_port
    return [Node(k, first + k - 1, 0) for k in range(1, cluster.size + 1)]


def existing(settings: Settings) -> LocalCluster | None:
    """The cluster under this data dir when any node of it runs (`stop` and `status` without --nodes)."""
    probe = LocalCluster(settings, 0)
    if not probe.layout_file.exists():
        return None
    cluster = LocalCluster(settings, len(nodes(probe)))
    alive = any(kafka_local.running_pid(cluster.broker(n)) is not None for n in nodes(cluster))
    return cluster if alive else None


def _lay_out(cluster: LocalCluster) -> tuple[str, list[Node]]:
    """The cluster id and nodes, written once: a restart of any node reuses them."""
    with contextlib.suppress(OSError, ValueError, KeyError):
        saved = json.loads(cluster.layout_file.read_text())
        return saved["cluster_id"], [Node(**n) for n in saved["nodes"]]
    laid = [Node(n.node_id, n.port, kafka_local.free_port(cluster.host)) for n in nodes(cluster)]
    cluster_id = uuid.uuid4().hex[:22]
    cluster.home.mkdir(parents=True, exist_ok=True)
    cluster.layout_file.write_text(json.dumps({"cluster_id": cluster_id, "nodes": [n.__dict__ for n in laid]}))
    return cluster_id, laid


def _write_node_config(cluster: LocalCluster, node: Node, laid: list[Node]) -> Path:
    broker = cluster.broker(node)
    broker.home.mkdir(parents=True, exist_ok=True)
    voters = ",".join(f"{n.node_id}@{cluster.host}:{n.controller_port}" for n in laid)
    config = broker.home / "server.properties"
    config.write_text(NODE_PROPERTIES.format(
        nodes=len(laid), node_id=node.node_id, voters=voters, host=cluster.host, port=node.port,
        controller_port=node.controller_port, log_dir=broker.home / "data",
        replication=min(3, len(laid)), min_isr=min(2, len(laid))))
    (broker.home / "log4j2.yaml").write_text(kafka_local.LOG4J2)
    return config


def start(cluster: LocalCluster, deadline_s: float = 120.0) -> str:
    """Start every node that is not running, then wait until each answers; one line back."""
    if cluster.size < 1:
        raise SetupError("--nodes must be at least 1")
    began = time.monotonic()
    cluster_id, laid = _lay_out(cluster)
    if len(laid) != cluster.size:
        raise SetupError(f"{cluster.home} holds a {len(laid)}-node cluster: start it with --nodes {len(laid)}, "
                         f"or `votewire kafka stop` it and remove that directory for a new one")
    pids = {node.node_id: _launch_node(cluster, node, laid, cluster_id) for node in laid}
    launched = [node_id for node_id, (_, new) in pids.items() if new]
    for node in laid:
        kafka_local.wait_ready(cluster.broker(node), pids[node.node_id][0], began + deadline_s)
    what = f"started {len(launched)} of {len(laid)} nodes" if launched else "already running"
    took = time.monotonic() - began
    return f"kafka cluster ready at {cluster.bootstrap} in {took:.1f}s ({what}; data {cluster.home})"




def _launch_node(cluster: LocalCluster, node: Node, laid: list[Node], cluster_id: str) -> tuple[int, bool]:
    """Launches the node unless it runs already: (its pid, whether it was launched now). The pid
    of a new one is the one spawned, not read back: a process just spawned under heavy load has
    been seen not to show its command line in /proc yet."""
    broker = cluster.broker(node)
    if (running := kafka_local.running_pid(broker)) is not None:
        return running, False
    if kafka_local.port_in_use(cluster.host, node.port):
        raise SetupError(f"port {node.port} on {cluster.host} (kafka node {node.node_id}) is already in use by "
                         f"another process: stop it, or set VOTEWIRE_BOOTSTRAP={cluster.host}:<free port> "
                         f"(node k listens on that port + k - 1)")
    java = kafka_local.java_binary()
    kafka_local.fetch_jars(broker)
    config = _write_node_config(cluster, node, laid)
    kafka_local.format_storage(broker, java, config, cluster_id)
    return kafka_local.launch(broker, java, config), True



def stop(cluster: LocalCluster) -> str:
    """Stop every node: SIGTERM to all at once, then wait for each. One at a time, the last node
    would wait out its controlled shutdown for a controller quorum that is already gone."""
    signalled = {}
    for node in nodes(cluster):
        pid = kafka_local.running_pid(cluster.broker(node))
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            signalled[node.node_id] = pid
    lines = []
    for node in nodes(cluster):
        line = kafka_local.stop(cluster.broker(node))  # waits for it; SIGKILL past its deadline
        if node.node_id in signalled and line.startswith("kafka is not running"):
            line = f"kafka stopped (was pid {signalled[node.node_id]}); {cluster.host}:{node.port} is free"
        lines.append(f"node {node.node_id}: {line}")
    return "\n".join(lines)


def status(cluster: LocalCluster) -> tuple[bool, str]:
    answers = [(n.node_id, *kafka_local.status(cluster.broker(n))) for n in nodes(cluster)]
    ready = all(ok for _, ok, _ in answers)
    head = f"kafka cluster of {len(answers)} nodes {'ready' if ready else 'not fully up'} at {cluster.bootstrap}"
    return ready, "\n".join([head, *(f"node {node_id}: {line}" for node_id, _, line in answers)])
