"""`votewire worker`: run a tally worker (streams.worker) until Ctrl-C (or SIGTERM), then stop cleanly.

Only this module is imported at `votewire --help` time: faust loads in `run`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from streams.kafka.topics import TopicSpec, check_topics, ensure_topics, live_brokers
from streams.settings import Settings, split_addr


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--web-addr", help="private metrics/health address (VOTEWIRE_WORKER_WEB_ADDR, "
                                           "default 127.0.0.1:6066); keep it off public interfaces")
    parser.add_argument("--publish-interval", type=float,
                        help="seconds between coalesced snapshots per key (VOTEWIRE_PUBLISH_INTERVAL_S, default 0.25)")
    parser.add_argument("--partitions", type=int,
                        help="partitions of the contract topics it creates (VOTEWIRE_PARTITIONS, default 4)")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                        help="log level (VOTEWIRE_LOG_LEVEL, default info)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    settings = settings.with_(**{k: v for k, v in {
        "worker_web_addr": args.web_addr, "publish_interval_s": args.publish_interval,
        "partitions": args.partitions, "log_level": args.log_level}.items() if v is not None})
    # A malformed address is one error now, not a task failing every second once faust runs.
    split_addr(settings.worker_web_addr, "VOTEWIRE_WORKER_WEB_ADDR (--web-addr)")
    from streams.worker.app import rekeyed_topic_name  # imports faust: not at `votewire --help` time

    # The re-key topic too: faust subscribes to it at start and ignores it if it is missing.
    rekeyed = TopicSpec(rekeyed_topic_name(settings), compact=False, oversize=True, log=True)
    created = asyncio.run(ensure_topics(settings, extra=(rekeyed,)))
    if created:
        print(f"created topics: {', '.join(created)}")
    if not topics_as_relied_on(settings, rekeyed):
        return 2
    # Faust creates one internal topic itself (its assignor's leader topic): as replicated as
    # ours, but never more than the brokers that answer (1 on a development broker).
    brokers = asyncio.run(live_brokers(settings))
    from streams.worker.process import start_worker

    return start_worker(settings.with_(replication_factor=min(settings.replication_factor, brokers)))


def topics_as_relied_on(settings: Settings, rekeyed: TopicSpec) -> bool:
    """Retention, compaction and partitions are what the tallies rest on: checked, not trusted.
    Each problem is one line on stderr."""
    problems = asyncio.run(check_topics(settings, extra=(rekeyed,)))
    for problem in problems:
        print(f"votewire worker: {problem}", file=sys.stderr)
    return not problems
