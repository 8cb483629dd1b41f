"""One error module: every votewire error derives from `VotewireError`.

`retriable` says whether trying the same thing again may succeed (a broker that is still
starting) or never will (a malformed record). The one place that decides dead letter versus
retry is `streams.contract.deadletter.classify`.
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


class InvalidRecord(VotewireError):
    """An input record that breaks the wire contract: it becomes a dead letter.

    `where` names the record (`precinct-results[2]@1841`) when known; `kind` is a short
    class for the `votewire-error` header (`not_json`, `bad_field`, ...).
    """

    def __init__(self, reason: str, kind: str = "invalid", where: str | None = None) -> None:
        self.reason = reason
        self.kind = kind
        self.where = where
        super().__init__(f"{where}: {reason}" if where else reason)

    def at(self, where: str) -> InvalidRecord:
        """The same error, located at `where`."""
        return InvalidRecord(self.reason, self.kind, where)


class SourceError(VotewireError):
    """A source file (AP JSON, Clarity XML, CSV, media file) is malformed at a named place."""

    def __init__(self, path: str, place: str, reason: str) -> None:
        self.path = path
        self.place = place
        self.reason = reason
        super().__init__(f"{path}:{place}: {reason}")
