"""Kafka client security settings: every combination either gives aiokafka's arguments or one
error naming the variable to fix, and the password never shows in a repr, a str or `--help`."""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from streams.errors import ConfigError
from streams.kafka import acls
from streams.kafka.security import describe, kafka_connection, kafka_security
from streams.settings import Secret, Settings

PASSWORD = "correct-horse-battery-staple"
SASL_SSL = {"VOTEWIRE_SECURITY_PROTOCOL": "SASL_SSL", "VOTEWIRE_SASL_USERNAME": "worker",
            "VOTEWIRE_SASL_PASSWORD": PASSWORD}


def test_plaintext_by_default() -> None:
    assert kafka_security(Settings.from_env({})) == {"security_protocol": "PLAINTEXT"}
    assert kafka_connection(Settings.from_env({}, bootstrap="h:1"))["bootstrap_servers"] == "h:1"


def test_sasl_ssl_gives_scram_credentials_and_a_verifying_tls_context() -> None:
    kwargs = kafka_security(Settings.from_env(SASL_SSL))
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == ("worker", PASSWORD)
    context = kwargs["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


def test_the_password_comes_from_a_file_without_its_newline(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n")
    env = {**SASL_SSL, "VOTEWIRE_SASL_PASSWORD": "", "VOTEWIRE_SASL_PASSWORD_FILE": str(secret)}
    assert kafka_security(Settings.from_env(env))["sasl_plain_password"] == PASSWORD


@pytest.mark.parametrize(("env", "names"), [
    ({"VOTEWIRE_SECURITY_PROTOCOL": "SASL_TLS"}, "VOTEWIRE_SECURITY_PROTOCOL"),
    ({**SASL_SSL, "VOTEWIRE_SASL_USERNAME": ""}, "VOTEWIRE_SASL_USERNAME"),
    ({**SASL_SSL, "VOTEWIRE_SASL_PASSWORD": ""}, "VOTEWIRE_SASL_PASSWORD_FILE"),
    ({**SASL_SSL, "VOTEWIRE_SASL_MECHANISM": "SCRAM-SHA-1"}, "VOTEWIRE_SASL_MECHANISM"),
    ({**SASL_SSL, "VOTEWIRE_SASL_PASSWORD_FILE": "/x"}, "not both"),
    ({**SASL_SSL, "VOTEWIRE_SASL_PASSWORD": "", "VOTEWIRE_SASL_PASSWORD_FILE": "/no/such/file"},
     "VOTEWIRE_SASL_PASSWORD_FILE='/no/such/file' cannot be read"),
    ({**SASL_SSL, "VOTEWIRE_SSL_CAFILE": "/no/such/ca.pem"}, "VOTEWIRE_SSL_CAFILE"),
    ({"VOTEWIRE_SSL_CAFILE": "/etc/ssl/ca.pem"}, "VOTEWIRE_SSL_CAFILE is set but"),
])
def test_an_incomplete_combination_names_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=names.replace("(", r"\(")) as refused:
        kafka_security(Settings.from_env(env))
    assert PASSWORD not in str(refused.value)


def test_the_password_never_shows_in_a_repr_or_str() -> None:
    settings = Settings.from_env(SASL_SSL)
    given = Settings.from_env({}, sasl_password=PASSWORD)  # an override, not from the environment
    for text in (repr(settings), str(settings), repr(given), f"{settings.sasl_password}", describe(settings)):
        assert PASSWORD not in text
    assert isinstance(given.sasl_password, Secret)
    assert given.sasl_password.reveal() == PASSWORD
    assert "worker" in describe(settings)


def test_help_never_shows_the_password() -> None:
    env = {"PATH": "/usr/bin:/bin", **SASL_SSL}
    for args in (["--help"], ["worker", "--help"], ["replay", "--help"], ["gateway", "--help"]):
        done = subprocess.run([sys.executable, "-m", "streams.cli", *args], env=env, capture_output=True,
                              text=True, timeout=60, check=True)
        assert PASSWORD not in done.stdout + done.stderr
    assert "VOTEWIRE_SASL_PASSWORD_FILE" in done.stdout


def test_roles_grant_only_their_topics() -> None:
    settings = Settings.from_env({}, topic_prefix="p.", app_id="votewire")
    producer = acls.role_acls("producer", settings)
    gateway = acls.role_acls("gateway", settings)
    worker = acls.role_acls("worker", settings)
    assert {a.operation for a in producer} == {"WRITE"}
    assert {a.name for a in producer} == {"p.race-definitions", "p.expected-votes", "p.precinct-results"}
    assert {a.operation for a in gateway} == {"READ"}
    assert "p.dead-letters" not in {a.name for a in gateway}
    assert acls.Acl("GROUP", "PREFIXED", "p.votewire", "READ") in worker
    assert acls.Acl("TRANSACTIONAL_ID", "PREFIXED", "p.votewire", "WRITE") in worker
    assert not any(a.pattern == "PREFIXED" and a.name == "p." for a in worker)  # not the whole prefix
    with pytest.raises(ValueError, match="unknown role"):
        acls.role_acls("auditor", settings)
