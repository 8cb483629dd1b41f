"""Configuration, read once into a typed object.

Every knob has a default and a `VOTEWIRE_*` environment variable; command-line flags override
the environment (see `streams.cli`). `Settings.from_env(mapping)` reads any mapping, so tests
pass their own instead of touching `os.environ`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from streams.errors import ConfigError

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


class Secret:
    """A value (a SASL password) that never shows in a repr, a str, a log line or a traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value itself: only for the Kafka client that sends it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _default_data_dir() -> str:
    return str(Path.home() / ".local" / "share" / "votewire")


@dataclass(frozen=True)
class Settings:
    bootstrap: str = DEFAULT_BOOTSTRAP
    topic_prefix: str = ""
    data_dir: str = field(default_factory=_default_data_dir)
    app_id: str = "votewire"
    # Partitions of every input and output topic. Input topics must agree: a race's
    # definition, expected vote and precinct reports are joined on the same partition.
    partitions: int = 4
    publish_interval_s: float = 0.25
    # Seconds between checkpoints of the tallies (streams.worker.checkpoint); 0 turns them off.
    checkpoint_interval_s: float = 30.0
    # The model of the vote still out "settles" (the `projection_settled` alert) when the 90%
    # interval of its expected vote is narrower than this percent of the estimate.
    model_settled_pct: float = 2.0
    # A worker that stops heartbeating (killed, frozen) loses its partitions after this long;
    # a restarted one waits about as long for its old self to be declared gone. 6 s is the
    # broker's least (group.min.session.timeout.ms); heartbeats go every third of it, from
    # faust's consumer thread, which a busy worker does not hold up.
    session_timeout_s: float = 6.0
    worker_web_addr: str = "127.0.0.1:6066"
    gateway_addr: str = "127.0.0.1:8080"
    gateway_show_test: bool = False
    # Origins that may read the gateway from a browser: `*` (any: public, credential-free
    # results), a comma-separated list, or `none` (streams/gateway/guard.py).
    gateway_cors_origins: str = "*"
    # Seconds a connection may take to send a whole request head, and may idle between requests.
    gateway_idle_timeout_s: float = 15.0
    log_level: str = "info"
    kafka_version: str = "4.1.1"
    kafka_heap: str = "512m"
    # Nodes of the local cluster `votewire kafka start` runs (1: the single development broker).
    kafka_nodes: int = 1
    # Replication of the topics votewire creates, production defaults: three copies, and a write
    # acknowledged once two have it, so one broker can die without losing or refusing a report.
    # A single-broker cluster (development) gets 1 and 1, with a note (streams.kafka.topics).
    replication_factor: int = 3
    min_insync_replicas: int = 2
    cache_dir: str = field(default_factory=lambda: str(Path.home() / ".cache" / "votewire"))
    # Kafka client security, for every client of every command (streams.kafka.security):
    # PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL; the password from a file keeps it out of `ps`.
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    sasl_username: str = ""
    sasl_password: Secret = field(default_factory=lambda: Secret(""))
    sasl_password_file: str = ""
    ssl_cafile: str = ""
    # SASL_PLAINTEXT sends the login in the clear: refused unless a lab says it means it.
    allow_plaintext_sasl: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.sasl_password, str):  # given as an override: hide it all the same
            object.__setattr__(self, "sasl_password", Secret(self.sasl_password))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from `VOTEWIRE_<FIELD>` variables (default: `os.environ`), then overrides."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"VOTEWIRE_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _parse(f.name, raw, f.type)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def topic(self, name: str) -> str:
        """The full name of a contract topic, with the configured prefix."""
        return f"{self.topic_prefix}{name}"

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @property
    def host_port(self) -> tuple[str, int]:
        return split_addr(self.bootstrap.split(",")[0], "VOTEWIRE_BOOTSTRAP")


def split_addr(addr: str, what: str) -> tuple[str, int]:
    """`host:port` -> (host, port), with an error naming the setting when it is malformed."""
    host, sep, port = addr.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{what}={addr!r} is not host:port (e.g. 127.0.0.1:9092)")
    return host.strip("[]"), int(port)


def _parse(name: str, raw: str, kind: Any) -> Any:
    kind = str(kind)
    if kind == "Secret":
        return Secret(raw)
    bad = ConfigError(f"VOTEWIRE_{name.upper()}={raw!r} is not a valid {kind}")
    if "bool" in kind:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off", ""):
            return False
        raise bad
    try:
        if "int" in kind:
            return int(raw)
        if "float" in kind:
            return float(raw)
    except ValueError:
        raise bad from None
    return raw
