"""`votewire kafka start|stop|status`: the local broker from the command line."""

from __future__ import annotations

import argparse

from streams import kafka_local
from streams.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["start", "stop", "status", "fetch"],
                        help="start (prints the bootstrap address), stop, status, or fetch the jars only")
    parser.add_argument("--heap", help="broker max heap, e.g. 512m (VOTEWIRE_KAFKA_HEAP)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.heap:
        settings = settings.with_(kafka_heap=args.heap)
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
