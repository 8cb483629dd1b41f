"""One error module: every votewire error derives from `VotewireError`.

`retriable` says whether trying the same thing again may succeed (a broker that is still
starting) or never will (a malformed record). An `InvalidRecord` becomes a dead letter where a
record is decoded (streams.worker.agents, streams.worker.book_reader); nothing else is
swallowed there.
"""

from __future__ import annotations


class VotewireError(Exception):
    """Root of all votewire errors."""

    retriable = False


class ConfigError(VotewireError):
    """A setting or command-line value is wrong; the message says which and how to fix it."""


class SetupError(VotewireError):
    """Something this machine lacks (java, mvn, a free port); the message says what to do."""


class BrokerError(VotewireError):
    """The local Kafka broker could not be started, reached or stopped."""

    retriable = True


class NothingDone(VotewireError):
    """A command could not do any of what it was asked: nothing readable, nothing sent or
    written. It exits 1 and leaves no output file behind."""


class InvalidRecord(VotewireError):
    """An input record that breaks the wire contract: it becomes a dead letter.

    `kind` is a short class for the `votewire-error` header (`not_json`, `bad_field`, ...);
    where the record came from travels beside it (streams.contract.deadletter.source_of).
    """

    def __init__(self, reason: str, kind: str = "invalid") -> None:
        self.reason = reason
        self.kind = kind
        super().__init__(reason)


class SourceError(VotewireError):
    """A source file (AP JSON, Clarity XML, CSV, media file) is malformed at a named place."""

    def __init__(self, path: str, place: str, reason: str) -> None:
        self.path = path
        self.place = place
        self.reason = reason
        super().__init__(f"{path}:{place}: {reason}")
