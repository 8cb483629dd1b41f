"""`votewire kafka start|stop|status`: the local broker, or a local cluster (--nodes N), from the command line."""

from __future__ import annotations

import argparse

from streams.localkafka import kafka_cluster, kafka_local
from streams.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["start", "stop", "status", "fetch"],
                        help="start (prints the bootstrap address), stop, status, or fetch the jars only")
    parser.add_argument("--heap", help="broker max heap, e.g. 512m (VOTEWIRE_KAFKA_HEAP)")
    parser.add_argument("--nodes", type=int,
                        help="a local cluster of N broker+controller nodes on the bootstrap port and the next "
                             "N-1 (VOTEWIRE_KAFKA_NODES, default 1); stop and status find a running cluster "
                             "by themselves")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.heap:
        settings = settings.with_(kafka_heap=args.heap)
    if args.nodes is not None:
        settings = settings.with_(kafka_nodes=args.nodes)
    cluster = cluster_for(args, settings)
    if cluster is not None:
        return run_cluster(args.action, cluster)
    broker = kafka_local.LocalBroker(settings)
    if args.action == "start":
        print(kafka_local.start(broker))
        return 0
    if args.action == "stop":
        print(kafka_local.stop(broker))
        return 0
    if args.action == "fetch":
        print(f"kafka {settings.kafka_version} jars in {kafka_local.fetch_jars(broker)}")
        return 0
    ready, line = kafka_local.status(broker)
    print(line)
    return 0 if ready else 3


def cluster_for(args: argparse.Namespace, settings: Settings) -> kafka_cluster.LocalCluster | None:
    """The cluster to act on: asked for with --nodes N > 1, or (stop, status) one laid out already."""
    if args.action == "fetch":
        return None
    if settings.kafka_nodes != 1:
        return kafka_cluster.LocalCluster(settings, settings.kafka_nodes)
    if args.action in ("stop", "status") and args.nodes is None:
        return kafka_cluster.existing(settings)
    return None


def run_cluster(action: str, cluster: kafka_cluster.LocalCluster) -> int:
    if action == "start":
        print(kafka_cluster.start(cluster))
        return 0
    if action == "stop":
        print(kafka_cluster.stop(cluster))
        return 0
    ready, text = kafka_cluster.status(cluster)
    print(text)
    return 0 if ready else 3
