"""What every `votewire` verb shares: the shape of a verb module and the common flags.

Each module of this package is one verb: `add_arguments(parser)` and `run(args, settings) -> int`,
nothing else; the work itself lives in the package of its concept (as faust keeps
`faust/cli/worker.py` apart from the runtime `faust/worker.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Iterator
from typing import NoReturn, Protocol

from streams.settings import MECHANISMS, PROTOCOLS, Settings

# Exit codes of every verb: 0 done; 1 it could not do what was asked (nothing readable, nothing
# sent or written, the broker unreachable, a --strict check failed); 2 bad usage or settings,
# or something this machine lacks; 3 `kafka status`: not running; 130 interrupted.
DONE, FAILED, USAGE, NOT_RUNNING, INTERRUPTED = 0, 1, 2, 3, 130


class Verb(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...
    def run(self, args: argparse.Namespace, settings: Settings) -> int: ...


class VerbParser(argparse.ArgumentParser):
    """A usage error is one line (and exit 2) that points at --help, not argparse's usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"{self.prog}: {message} (`{self.prog} --help` explains)\n")


def common_flags() -> VerbParser:
    p = VerbParser(add_help=False)
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


@contextlib.contextmanager
def stop_on_interrupt(stop: asyncio.Event) -> Iterator[None]:
    """The first Ctrl-C (or SIGTERM) sets `stop` so the command can flush and report; a second
    Ctrl-C interrupts the usual way."""
    loop = asyncio.get_running_loop()

    def first_interrupt(sig: signal.Signals) -> None:
        stop.set()
        loop.remove_signal_handler(sig)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, first_interrupt, sig)
    try:
        yield
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
