"""`votewire watch`: live readouts in the terminal (streams.gateway.watch)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import sys

from streams.errors import ConfigError
from streams.gateway.watch import (
    TOP_COUNTIES,
    ReadoutFilter,
    county_names,
    snapshots_from_gateway,
    snapshots_from_topic,
    watch,
)
from streams.localkafka.running_demo import running_demo
from streams.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Without --bootstrap, --topic-prefix or their VOTEWIRE_* variables, it follows a `votewire demo` running "
        "on the same VOTEWIRE_DATA_DIR (the demo leaves its broker and prefix in demo.json there). "
        "Each new snapshot prints its readout ('Harris 53.1% · Trump 44.3% · 52% of expected vote counted'), "
        "then the second readout line of what the trailing candidate needs ('Trump needs 54.9% of the remaining "
        "1,544,927 expected votes'; 'out of reach' above 100%; past the estimate it says the vote still out is not "
        "known), then the counties with the most expected vote still out, with their leader and margin so far.")
    parser.add_argument("--race", help="only this race_id (e.g. president)")
    parser.add_argument("--state", help="only this state (USPS code, e.g. MN)")
    parser.add_argument("--gateway", metavar="URL",
                        help="follow a gateway's /v1/stream (e.g. http://127.0.0.1:8080) instead of Kafka")
    parser.add_argument("--counties", type=int, default=TOP_COUNTIES, metavar="N",
                        help=f"list the N counties with the most vote still out (default {TOP_COUNTIES}; 0: none)")


def print_line(line: str) -> None:
    print(line, flush=True)  # one line per update, visible at once even when piped


def run(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka.connection_log import collapse_connection_errors

    logging.basicConfig(level=settings.log_level.upper(), stream=sys.stderr, format="%(levelname)s %(message)s")
    if settings.log_level.lower() != "debug":
        logging.getLogger("aiokafka").setLevel(logging.WARNING)  # its subscriptions are no news in a terminal
    collapse_connection_errors()  # a broker outage while watching: one line when lost, one when back
    if args.gateway and not re.fullmatch(r"https?://[^/\s]+/?", args.gateway):
        raise ConfigError(f"--gateway {args.gateway!r} is not a gateway's address, like http://127.0.0.1:8080")
    if not args.gateway:
        settings = follow_running_demo(args, settings)
    source = snapshots_from_gateway(args.gateway) if args.gateway else snapshots_from_topic(settings)
    try:
        readouts = ReadoutFilter(args.race, args.state, counties=args.counties, county_names=county_names(settings))
        asyncio.run(watch(source, readouts, print_line))
    except KeyboardInterrupt:  # asyncio.run has cancelled the watch and closed the consumer
        return 0
    return 0


def follow_running_demo(args: argparse.Namespace, settings: Settings) -> Settings:
    """The running demo's broker and prefix, unless the command line or environment names them."""
    named = (args.bootstrap, args.topic_prefix, os.environ.get("VOTEWIRE_BOOTSTRAP"),
             os.environ.get("VOTEWIRE_TOPIC_PREFIX"))
    demo = None if any(v is not None for v in named) else running_demo(settings)
    if demo is None:
        return settings
    print(f"votewire watch: following the running demo (prefix {demo.topic_prefix}, broker {demo.bootstrap}, "
          f"board {demo.board})", file=sys.stderr)
    return settings.with_(bootstrap=demo.bootstrap, topic_prefix=demo.topic_prefix)
