"""Configuration, read once into a typed object.

Every knob has a default and a `VOTEWIRE_*` environment variable; command-line flags override
the environment (see `streams.cli`). `Settings.from_env(mapping)` reads any mapping, so tests
pass their own instead of touching `os.environ`.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from streams.errors import ConfigError

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
LOG_LEVELS = ("debug", "info", "warning", "error")
PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
# `VOTEWIRE_*` variables that are not settings, read elsewhere: the broker the integration tests
# and the benchmarks use, and the fuzz tests' example count. Known, so they draw no "misspelt"
# warning.
OTHER_VARIABLES = frozenset({"VOTEWIRE_TEST_BOOTSTRAP", "VOTEWIRE_BENCH_BOOTSTRAP", "VOTEWIRE_FUZZ_EXAMPLES"})


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
    # A member that has not rejoined this long after a rebalance began is left out of the group
    # (faust's broker_rebalance_timeout). A worker never holds a rebalance up for a rebuild.
    rebalance_timeout_s: float = 60.0
    # How long the worker's producer retries a send (a leader away, min ISR not met) before it
    # gives it back failed; the outbox then logs the outage once and sends it again, never
    # committing the input past it (streams.worker.outbox). faust's own default is 20 minutes.
    send_timeout_s: float = 30.0
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
        check_values(self)

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

    @staticmethod
    def variables() -> list[str]:
        """The `VOTEWIRE_*` names of the settings."""
        return [f"VOTEWIRE_{f.name.upper()}" for f in fields(Settings)]

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
    if not is_addr(addr):
        raise ConfigError(f"{what}={addr!r} is not host:port (e.g. 127.0.0.1:9092)")
    host, _, port = addr.strip().rpartition(":")
    return host.strip("[]"), int(port)


def is_addr(addr: str) -> bool:
    host, sep, port = addr.strip().rpartition(":")
    return bool(sep and host and port.isdigit() and 0 < int(port) < 65536)


def is_origins(text: str) -> bool:
    """`*`, `none`, or a comma-separated list of origins (`https://news.example`): an origin
    without its scheme would never match a browser's `Origin` header."""
    origins = [o.strip() for o in text.split(",") if o.strip()]
    return text.strip().lower() in ("*", "none") or (
        bool(origins) and all(re.fullmatch(r"https?://[^/\s]+/?", o) for o in origins))


KAFKA_NAME = re.compile(r"[A-Za-z0-9._-]*")  # the characters Kafka allows in topic and group names
# setting -> (is the value valid?, what it must be). Checked whenever a Settings is made, so every
# command refuses a bad VOTEWIRE_* value (or flag) with one line naming it, before starting anything.
RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "bootstrap": (lambda v: all(is_addr(a) for a in v.split(",")), "host:port, or a comma-separated list of them"),
    "worker_web_addr": (is_addr, "host:port, with a port from 1 to 65535"),
    "gateway_addr": (is_addr, "host:port, with a port from 1 to 65535"),
    "topic_prefix": (lambda v: KAFKA_NAME.fullmatch(v) is not None, "letters, digits, '.', '_' and '-' only"),
    "app_id": (lambda v: bool(v) and KAFKA_NAME.fullmatch(v) is not None,
               "one or more letters, digits, '.', '_' and '-'"),
    "partitions": (lambda v: v >= 1, "a whole number, at least 1"),
    "replication_factor": (lambda v: v >= 1, "a whole number, at least 1"),
    "min_insync_replicas": (lambda v: v >= 1, "a whole number, at least 1"),
    "kafka_nodes": (lambda v: v >= 1, "a whole number, at least 1"),
    "publish_interval_s": (lambda v: v > 0, "a number of seconds above 0"),
    "checkpoint_interval_s": (lambda v: v >= 0, "a number of seconds, 0 or more (0 turns checkpoints off)"),
    "session_timeout_s": (lambda v: v > 0, "a number of seconds above 0"),
    "rebalance_timeout_s": (lambda v: v > 0, "a number of seconds above 0"),
    "send_timeout_s": (lambda v: v > 0, "a number of seconds above 0"),
    "gateway_idle_timeout_s": (lambda v: v > 0, "a number of seconds above 0"),
    "gateway_cors_origins": (is_origins, "*, none, or a comma-separated list of origins like https://news.example"),
    "log_level": (lambda v: v.lower() in LOG_LEVELS, f"one of {', '.join(LOG_LEVELS)}"),
    "security_protocol": (lambda v: v.upper() in PROTOCOLS, f"one of {', '.join(PROTOCOLS)}"),
    "sasl_mechanism": (lambda v: v.upper() in MECHANISMS, f"one of {', '.join(MECHANISMS)}"),
    "kafka_heap": (lambda v: re.fullmatch(r"[1-9][0-9]*[kKmMgG]?", v) is not None, "a Java heap size like 512m or 2g"),
    "kafka_version": (lambda v: re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", v) is not None, "a version like 4.1.1"),
    "data_dir": (bool, "a directory"),
    "cache_dir": (bool, "a directory"),
}


def check_values(settings: Settings) -> None:
    for name, (valid, what) in RULES.items():
        value = getattr(settings, name)
        if (isinstance(value, float) and not math.isfinite(value)) or not valid(value):
            raise ConfigError(f"VOTEWIRE_{name.upper()}={value!r}: must be {what}")


def unknown_variables(env: Mapping[str, str]) -> list[str]:
    """One warning line per `VOTEWIRE_*` variable votewire does not know (a misspelt setting is
    otherwise silently ignored), with the closest known name."""
    known = [*Settings.variables(), *OTHER_VARIABLES]
    suffixes = [k.removeprefix("VOTEWIRE_") for k in known]  # the shared prefix would make everything close
    lines = []
    for name in sorted(n for n in env if n.startswith("VOTEWIRE_") and n not in known):
        close = difflib.get_close_matches(name.removeprefix("VOTEWIRE_"), suffixes, n=1, cutoff=0.6)
        hint = f" (did you mean VOTEWIRE_{close[0]}?)" if close else ""
        lines.append(f"votewire: warning: {name} is not a votewire variable and is ignored{hint}")
    return lines


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
