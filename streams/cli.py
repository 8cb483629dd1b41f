"""`votewire`: the one command line.

Each verb is a module of `streams.commands` with `add_arguments(parser)` and
`run(args, settings) -> int`; this file only wires them together, applies the common flags on
top of the `VOTEWIRE_*` environment, and turns errors into one clear line and an exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
from collections.abc import Sequence
from typing import cast

from streams import __version__
from streams.commands.base import FAILED, INTERRUPTED, USAGE, Verb, VerbParser, common_flags
from streams.errors import ConfigError, SetupError, VotewireError
from streams.kafka.security import check_login
from streams.settings import Settings, unknown_variables

# verb -> (module, one-line help)
VERBS: dict[str, tuple[str, str]] = {
    "kafka": ("streams.commands.kafka", "start, stop or check the local Kafka broker (or a local cluster: --nodes 3)"),
    "worker": ("streams.commands.worker", "run a tally worker: precinct reports in, results and alerts out"),
    "gateway": ("streams.commands.gateway", "serve results over HTTP, Server-Sent Events and the live board"),
    "replay": ("streams.commands.replay", "replay recorded nights (JSON Lines) into the topics"),
    "record": ("streams.commands.record", "record topics into a replayable JSON Lines file"),
    "ingest": ("streams.commands.ingest", "turn official feeds (mn-sos, ap, clarity, openelections) into records"),
    "baseline": ("streams.commands.baseline", "a previous election's results -> baseline/1 records for the model"),
    "simulate": ("streams.commands.simulate", "write a seeded, deterministic election night at any scale"),
    "watch": ("streams.commands.watch", "live readouts in the terminal"),
    "demo": ("streams.commands.demo", "broker, worker and gateway, replaying the bundled Minnesota 2024 night"),
    "topics": ("streams.commands.topics", "create the contract's topics with the right partitions and cleanup"),
    "call": ("streams.commands.call", "the desk calls a race (or a runoff), or retracts its call"),
}


# Verbs that talk to a Kafka broker as clients (`kafka` runs the local broker itself).
KAFKA_CLIENT_VERBS = frozenset({"worker", "gateway", "replay", "record", "watch", "demo", "topics", "call"})



def build_parser() -> argparse.ArgumentParser:
    parser = VerbParser(
        prog="votewire",
        description="Live vote-count stream processor: precinct reports in, newsroom-ready results out.",
        epilog="Configuration comes from VOTEWIRE_* environment variables; flags override them. "
               "`votewire VERB --help` explains each verb. Exit codes: 0 done, 1 could not do it, "
               "2 bad usage or settings, 130 interrupted.")
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
    for line in unknown_variables(os.environ):
        print(line, file=sys.stderr)
    args = build_parser().parse_args(argv)
    try:
        return run_verb(args)
    except KeyboardInterrupt:
        print("votewire: interrupted", file=sys.stderr)
        return INTERRUPTED
    except (ConfigError, SetupError) as e:
        print(f"votewire {args.verb}: {e}", file=sys.stderr)
        return USAGE
    except VotewireError as e:
        print(f"votewire {args.verb}: {e}", file=sys.stderr)
        return FAILED
    except OSError as e:  # a file that cannot be read or written: the OS says which and why
        print(f"votewire {args.verb}: {e}", file=sys.stderr)
        return FAILED
    except Exception as e:  # a bug, or a library error nobody turned into words: still one line
        if os.environ.get("VOTEWIRE_LOG_LEVEL", "").lower() == "debug":
            raise
        print(f"votewire {args.verb}: {type(e).__name__}: {e} (VOTEWIRE_LOG_LEVEL=debug shows where)",
              file=sys.stderr)
        return FAILED


def run_verb(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    if args.verb in KAFKA_CLIENT_VERBS:  # a wrong password: one error now, not retries later
        asyncio.run(check_login(settings))
    verb = cast(Verb, importlib.import_module(VERBS[args.verb][0]))
    return verb.run(args, settings)


if __name__ == "__main__":
    sys.exit(main())
