"""`votewire`: the one command line.

Each verb lives in the module named for its concept and exposes `add_arguments(parser)` and
`run(args, settings) -> int`; this file only wires them together, applies the common flags on
top of the `VOTEWIRE_*` environment, and turns errors into one clear line and an exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol, cast

from streams import __version__
from streams.errors import ConfigError, SetupError, VotewireError
from streams.security import MECHANISMS, PROTOCOLS, check_login
from streams.settings import Settings


class Verb(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...
    def run(self, args: argparse.Namespace, settings: Settings) -> int: ...


# verb -> (module, one-line help)
VERBS: dict[str, tuple[str, str]] = {
    "kafka": ("streams.kafka_cli", "start, stop or check the local Kafka broker (or a local cluster: --nodes 3)"),
    "worker": ("streams.worker", "run a tally worker: precinct reports in, results and alerts out"),
    "gateway": ("streams.gateway.server", "serve results over HTTP, Server-Sent Events and the live board"),
    "replay": ("streams.replay", "replay recorded nights (JSON Lines) into the topics"),
    "record": ("streams.record", "record topics into a replayable JSON Lines file"),
    "ingest": ("streams.adapters.cli", "turn official feeds (mn-sos, ap, clarity, openelections) into records"),
    "baseline": ("streams.baseline_cli", "a previous election's results per unit -> baseline/1 records for the model"),
    "simulate": ("streams.simulate", "write a seeded, deterministic election night at any scale"),
    "watch": ("streams.watch", "live readouts in the terminal"),
    "demo": ("streams.demo", "broker, worker and gateway, replaying the bundled Minnesota 2024 night"),
    "topics": ("streams.topics", "create the contract's topics with the right partitions and cleanup"),
}


# Verbs that talk to a Kafka broker as clients (`kafka` runs the local broker itself).
KAFKA_CLIENT_VERBS = frozenset({"worker", "gateway", "replay", "record", "watch", "demo", "topics"})


def common_flags() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("common options (override VOTEWIRE_* variables)")
    g.add_argument("--bootstrap", help="Kafka address host:port (VOTEWIRE_BOOTSTRAP, default 127.0.0.1:9092)")
    g.add_argument("--topic-prefix", help="prefix for every topic name (VOTEWIRE_TOPIC_PREFIX, default none)")
    g.add_argument("--data-dir", help="local state: broker data, worker tables (VOTEWIRE_DATA_DIR)")
    s = p.add_argument_group("Kafka security (override VOTEWIRE_* variables; see README, Security)")
    s.add_argument("--security-protocol", choices=PROTOCOLS,
                   help="how clients reach Kafka (VOTEWIRE_SECURITY_PROTOCOL, default PLAINTEXT)")
    s.add_argument("--sasl-mechanism", choices=MECHANISMS,
                   help="SASL mechanism (VOTEWIRE_SASL_MECHANISM, default SCRAM-SHA-512)")
    s.add_argument("--sasl-username", help="SASL user (VOTEWIRE_SASL_USERNAME)")
    s.add_argument("--sasl-password-file", help="file holding the SASL password (VOTEWIRE_SASL_PASSWORD_FILE; "
                                                "or VOTEWIRE_SASL_PASSWORD, never a flag: flags show in `ps`)")
    s.add_argument("--ssl-cafile", help="PEM file of the CA(s) that signed the broker's certificate "
                                        "(VOTEWIRE_SSL_CAFILE, default the system's)")
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="votewire",
        description="Live vote-count stream processor: precinct reports in, newsroom-ready results out.",
        epilog="Configuration comes from VOTEWIRE_* environment variables; flags override them. "
               "`votewire VERB --help` explains each verb.")
    parser.add_argument("--version", action="version", version=f"votewire {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    parents = [common_flags()]
    for verb, (module, text) in VERBS.items():
        p = sub.add_parser(verb, help=text, description=text, parents=parents)
        cast(Verb, importlib.import_module(module)).add_arguments(p)
    return parser


def settings_for(args: argparse.Namespace) -> Settings:
    return Settings.from_env(bootstrap=args.bootstrap, topic_prefix=args.topic_prefix, data_dir=args.data_dir,
                             security_protocol=args.security_protocol, sasl_mechanism=args.sasl_mechanism,
                             sasl_username=args.sasl_username, sasl_password_file=args.sasl_password_file,
                             ssl_cafile=args.ssl_cafile)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_for(args)
        if args.verb in KAFKA_CLIENT_VERBS:  # a wrong password: one error now, not retries later
            asyncio.run(check_login(settings))
        verb = cast(Verb, importlib.import_module(VERBS[args.verb][0]))
        return verb.run(args, settings)
    except KeyboardInterrupt:
        print("votewire: interrupted", file=sys.stderr)
        return 130
    except (ConfigError, SetupError) as e:
        print(f"votewire {args.verb}: {e}", file=sys.stderr)
        return 2
    except VotewireError as e:
        print(f"votewire {args.verb}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
