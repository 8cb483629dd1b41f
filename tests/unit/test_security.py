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
    feed = acls.role_acls("feed", settings)
    desk = acls.role_acls("desk", settings)
    gateway = acls.role_acls("gateway", settings)
    assert {a.operation for a in feed + desk} == {"WRITE"}
    assert {a.name for a in feed} == {"p.precinct-results"}  # a feed cannot touch the race book
    assert {a.name for a in desk} == {"p.race-definitions", "p.expected-votes", "p.baselines", "p.race-calls"}
    worker_reads = {a.name for a in acls.role_acls("worker", settings) if a.operation == "READ"}
    assert {"p.baselines", "p.precinct-results"} <= worker_reads  # the worker reads what the desk and feeds write
    assert {a.operation for a in gateway} == {"READ"}
    worker = acls.role_acls("worker", settings)
    assert {a.operation for a in worker if a.name == "p.race-calls"} == {"READ", "DESCRIBE_CONFIGS"}
    assert "p.dead-letters" not in {a.name for a in gateway}
    with pytest.raises(ValueError, match="unknown role"):
        acls.role_acls("producer", settings)


def test_the_workers_grants_name_exactly_its_own_groups_topics_and_producers() -> None:
    settings = Settings.from_env({}, app_id="votewire", partitions=3)
    worker = acls.role_acls("worker", settings)
    assert {a.pattern for a in worker} == {"LITERAL"}  # PREFIXED `votewire` would also be votewire-staging's
    assert {a.name for a in worker if a.resource == "GROUP"} == {"votewire", "votewire-race-book"}
    assert {a.name for a in worker if a.resource == "TRANSACTIONAL_ID"} == {
        "votewire-snapshots-0", "votewire-snapshots-1", "votewire-snapshots-2"}
    own = {a.name for a in worker if a.resource == "TOPIC" and a.operation == "CREATE"}
    assert own == {"votewire-precinct-results-rekeyed", "votewire-__assignor-__leader"}
    from streams.worker.app import build_app, rekeyed_topic_name

    assert rekeyed_topic_name(settings) in own
    assert build_app(settings)._leader_assignor._leader_topic_name in own  # faust's own topic

    def own(s: Settings) -> set[str]:  # the names only this app uses: not the contract topics
        return {a.name for a in acls.role_acls("worker", s)} - set(acls.contract_topic_names(s))

    assert not own(settings) & own(settings.with_(app_id="votewire-staging"))


def test_the_worker_may_read_the_configs_of_the_topics_it_checks() -> None:
    settings = Settings.from_env({}, topic_prefix="p.", app_id="votewire")
    described = {a.name for a in acls.role_acls("worker", settings) if a.operation == "DESCRIBE_CONFIGS"}
    assert described == {*acls.contract_topic_names(settings), "p.votewire-precinct-results-rekeyed"}


def test_sasl_without_tls_is_refused_unless_a_lab_says_so() -> None:
    env = {**SASL_SSL, "VOTEWIRE_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}
    with pytest.raises(ConfigError, match="VOTEWIRE_ALLOW_PLAINTEXT_SASL=1") as refused:
        kafka_security(Settings.from_env(env))
    assert "\n" not in str(refused.value)
    assert PASSWORD not in str(refused.value)
    allowed = kafka_security(Settings.from_env({**env, "VOTEWIRE_ALLOW_PLAINTEXT_SASL": "1"}))
    assert allowed["security_protocol"] == "SASL_PLAINTEXT"
    assert "ssl_context" not in allowed


def test_sasl_without_tls_is_one_line_at_the_command_line() -> None:
    env = {"PATH": "/usr/bin:/bin", **SASL_SSL, "VOTEWIRE_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}
    done = subprocess.run([sys.executable, "-m", "streams.cli", "replay", "--max", "/dev/null"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("votewire replay: VOTEWIRE_SECURITY_PROTOCOL=SASL_PLAINTEXT")
