"""`votewire topics create`: the contract's topics, with the right partitions and cleanup (streams.kafka.topics)."""

from __future__ import annotations

import argparse
import asyncio

from streams.kafka.topics import ensure_topics
from streams.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["create"], help="create the missing contract topics")
    parser.add_argument("--partitions", type=int, help="partitions per topic (VOTEWIRE_PARTITIONS, default 4)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.partitions is not None:
        settings = settings.with_(partitions=args.partitions)
    created = asyncio.run(ensure_topics(settings))
    print(f"created {len(created)} topics: {', '.join(created)}" if created else "all contract topics exist")
    return 0
