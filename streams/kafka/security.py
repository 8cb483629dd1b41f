"""Kafka client security: TLS and SASL for every Kafka client of every command.

`kafka_security(settings)` is the one place that turns the `VOTEWIRE_SECURITY_PROTOCOL`,
`VOTEWIRE_SASL_*` and `VOTEWIRE_SSL_CAFILE` settings into aiokafka's keyword arguments; every
producer, consumer and admin client gets them from `streams.kafka.clients.kafka_client` (and
the faust app through `streams.worker.app`). An incomplete combination is a `ConfigError`
naming the variable, raised at start-up by `check_login`, which also opens one connection to
turn a refused login or an untrusted certificate into one clear error instead of a client
retrying forever.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

from streams.errors import ConfigError
from streams.settings import MECHANISMS, PROTOCOLS, Settings

__all__ = ["MECHANISMS", "PROTOCOLS", "AuthError", "check_login", "describe", "kafka_connection", "kafka_security"]


class AuthError(ConfigError):
    """The broker refused our credentials, or we refused its certificate."""


def kafka_security(settings: Settings) -> dict[str, Any]:
    """aiokafka's security keyword arguments for these settings (the password in clear: pass
    them straight to a client, never log them)."""
    protocol = settings.security_protocol.upper()
    if protocol not in PROTOCOLS:
        raise ConfigError(f"VOTEWIRE_SECURITY_PROTOCOL={settings.security_protocol!r} is not one of "
                          + ", ".join(PROTOCOLS))
    kwargs: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        kwargs["ssl_context"] = _ssl_context(settings.ssl_cafile)
    elif settings.ssl_cafile:
        raise ConfigError(f"VOTEWIRE_SSL_CAFILE is set but VOTEWIRE_SECURITY_PROTOCOL={protocol} does "
                          "not use TLS: choose SSL or SASL_SSL, or unset VOTEWIRE_SSL_CAFILE")
    if protocol == "SASL_PLAINTEXT" and not settings.allow_plaintext_sasl:
        raise ConfigError("VOTEWIRE_SECURITY_PROTOCOL=SASL_PLAINTEXT logs in without TLS (the PLAIN password in "
                          "the clear, a SCRAM exchange open to offline guessing): use SASL_SSL, or set "
                          "VOTEWIRE_ALLOW_PLAINTEXT_SASL=1 on a lab network where that is meant")
    if protocol.startswith("SASL_"):
        kwargs.update(_sasl(settings))
    return kwargs


def _ssl_context(cafile: str) -> ssl.SSLContext:
    if not cafile:  # the system's trusted CAs, as for any TLS client
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(f"VOTEWIRE_SSL_CAFILE={cafile!r} cannot be read as PEM certificates: {e}") from None


def _sasl(settings: Settings) -> dict[str, Any]:
    mechanism = settings.sasl_mechanism.upper()
    if mechanism not in MECHANISMS:
        raise ConfigError(f"VOTEWIRE_SASL_MECHANISM={settings.sasl_mechanism!r} is not one of "
                          + ", ".join(MECHANISMS))
    if not settings.sasl_username:
        raise ConfigError(f"VOTEWIRE_SECURITY_PROTOCOL={settings.security_protocol} needs "
                          "VOTEWIRE_SASL_USERNAME")
    return {"sasl_mechanism": mechanism, "sasl_plain_username": settings.sasl_username,
            "sasl_plain_password": _password(settings)}


def _password(settings: Settings) -> str:
    if settings.sasl_password and settings.sasl_password_file:
        raise ConfigError("set VOTEWIRE_SASL_PASSWORD or VOTEWIRE_SASL_PASSWORD_FILE, not both")
    if settings.sasl_password:
        return settings.sasl_password.reveal()
    if not settings.sasl_password_file:
        raise ConfigError(f"VOTEWIRE_SECURITY_PROTOCOL={settings.security_protocol} needs "
                          "VOTEWIRE_SASL_PASSWORD_FILE (or VOTEWIRE_SASL_PASSWORD)")
    try:
        password = Path(settings.sasl_password_file).read_text().rstrip("\r\n")
    except OSError as e:
        raise ConfigError(f"VOTEWIRE_SASL_PASSWORD_FILE={settings.sasl_password_file!r} cannot be "
                          f"read: {e.strerror}") from None
    if not password:
        raise ConfigError(f"VOTEWIRE_SASL_PASSWORD_FILE={settings.sasl_password_file!r} is empty")
    return password


def describe(settings: Settings) -> str:
    """How we connect, for a start-up line: never the password."""
    protocol = settings.security_protocol.upper()
    if protocol.startswith("SASL_"):
        return f"{protocol} as {settings.sasl_username!r} ({settings.sasl_mechanism.upper()})"
    return protocol


async def check_login(settings: Settings, timeout_s: float = 15.0) -> None:
    """Validate the security settings and, unless PLAINTEXT, log in to the first bootstrap
    address once: a wrong password or an untrusted certificate becomes one `AuthError` here,
    before any client starts retrying. A broker that is not reachable is left to the caller,
    which reports it in its own words (or waits for it)."""
    from aiokafka.conn import create_conn
    from aiokafka.errors import KafkaError

    kwargs = kafka_security(settings)
    if kwargs["security_protocol"] == "PLAINTEXT":
        return
    host, port = settings.host_port
    try:
        conn = await asyncio.wait_for(create_conn(host, port, request_timeout_ms=int(timeout_s * 1000),
                                                  **kwargs), timeout_s)
    except ssl.SSLCertVerificationError as e:
        raise AuthError(f"the broker at {host}:{port} presented a certificate we do not trust "
                        f"({e.verify_message}): check VOTEWIRE_SSL_CAFILE") from None
    except (KafkaError, ssl.SSLError) as e:
        if _is_auth_failure(e):
            raise AuthError(f"the broker at {host}:{port} refused the login of "
                            f"{describe(settings)}: check VOTEWIRE_SASL_USERNAME and the password "
                            "(VOTEWIRE_SASL_PASSWORD or VOTEWIRE_SASL_PASSWORD_FILE)") from None
        return
    except (TimeoutError, OSError):
        return
    conn.close()


def _is_auth_failure(error: BaseException) -> bool:
    from aiokafka.errors import SaslAuthenticationFailed, UnsupportedSaslMechanismError

    return isinstance(error, UnsupportedSaslMechanismError | SaslAuthenticationFailed)


def kafka_connection(settings: Settings) -> dict[str, Any]:
    """Where the broker is and how to log in: the keyword arguments every aiokafka client gets."""
    return {"bootstrap_servers": settings.bootstrap, **kafka_security(settings)}
