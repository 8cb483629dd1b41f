"""Security on a real broker: SASL/SCRAM-SHA-512 over TLS, and Kafka ACLs enforced by KRaft's
StandardAuthorizer with nothing allowed unless an ACL says so (`secure_kafka` in conftest).

Each role of `streams.kafka.acls` gets exactly its ACLs, and the real commands run under it: the
desk's `votewire replay` writes a simulated night's race book and the feed's its reports, the
worker's `votewire worker` turns them into snapshots equal to the simulator's truth, the
gateway's `votewire gateway` serves them.
Then each principal is refused what it may not do, a wrong password is one clear error, and no
password shows in any output.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import TopicAuthorizationFailedError

from streams import contract
from streams.kafka import acls
from streams.kafka.security import kafka_connection
from streams.kafka.topics import ensure_topics
from streams.localkafka.kafka_local import free_port
from streams.settings import Settings
from tests.integration.harness import (
    latest_by_key,
    read_topic,
    run,
    running_worker,
    votewire_env,
    votewire_process,
    wait_for,
)
from tests.integration.pipeline import http_status, print_log_tails
from tests.integration.secure import ADMIN, SecureKafka
from tests.integration.test_simulated_night import expected, figures, simulate_tiny


@pytest.fixture
def namespace(secure_kafka: SecureKafka, unique: str, tmp_path: Path) -> Settings:
    """The test's topics on the secure broker, created by the admin, with every role's ACLs."""
    settings = Settings.from_env(
        {}, bootstrap=secure_kafka.broker.bootstrap, topic_prefix=f"s{unique}.", app_id=f"votewire-{unique}",
        data_dir=str(tmp_path / "data"), publish_interval_s=0.1, partitions=2)
    admin = secure_kafka.as_admin(settings)
    run(ensure_topics(admin))
    for role in acls.ROLES:
        run(acls.grant(admin, f"User:{role}", acls.role_acls(role, settings)))
    return settings


def security_env(secure_kafka: SecureKafka, settings: Settings, role: str, tmp_path: Path,
                 password: str | None = None) -> dict[str, str]:
    """The variables that log `votewire` in as `role`, its password in a file only it can read."""
    login = secure_kafka.login(settings, role, password)
    secret = tmp_path / f"{role}.password"
    secret.write_text(login.sasl_password.reveal() + "\n")
    secret.chmod(0o600)
    return {"VOTEWIRE_SECURITY_PROTOCOL": login.security_protocol, "VOTEWIRE_SASL_MECHANISM": login.sasl_mechanism,
            "VOTEWIRE_SASL_USERNAME": role, "VOTEWIRE_SASL_PASSWORD_FILE": str(secret),
            "VOTEWIRE_SSL_CAFILE": login.ssl_cafile}


def role_env(secure_kafka: SecureKafka, settings: Settings, role: str, tmp_path: Path,
             password: str | None = None) -> dict[str, str]:
    return votewire_env(settings, **security_env(secure_kafka, settings, role, tmp_path, password))


def split_by_topic(night: Path, topics: set[str]) -> tuple[Path, Path]:
    """The recording's lines of `topics`, and the others, as two recordings beside it."""
    with gzip.open(night, "rb") as lines:
        split: tuple[list[bytes], list[bytes]] = ([], [])
        for line in lines:
            split[orjson.loads(line)["topic"] not in topics].append(line)
    paths = (night.with_name("chosen.jsonl"), night.with_name("others.jsonl"))
    for path, chosen in zip(paths, split, strict=True):
        path.write_bytes(b"".join(chosen))
    return paths


def votewire(args: list[str], env: dict[str, str], timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout_s, check=False)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return orjson.loads(resp.read())


def test_each_principal_does_its_job_on_a_simulated_night(secure_kafka: SecureKafka, namespace: Settings,
                                                          tmp_path: Path) -> None:
    night, truth = simulate_tiny(tmp_path)
    env = {role: role_env(secure_kafka, namespace, role, tmp_path) for role in acls.ROLES}
    admin = secure_kafka.as_admin(namespace)
    logs = tmp_path / "logs"

    # The desk publishes the race book, the feed the reports: neither could send the other's part.
    race_book, reports = split_by_topic(night, {contract.RACE_DEFINITIONS, contract.EXPECTED_VOTES})
    published = votewire(["replay", "--max", str(race_book)], env["desk"])
    assert published.returncode == 0, published.stderr
    replayed = votewire(["replay", "--max", str(reports)], env["feed"])
    assert replayed.returncode == 0, replayed.stderr

    want = {key: expected(t) for key, t in truth["races"].items()}

    def exact() -> bool:
        got = latest_by_key(run(read_topic(admin, contract.STATE_RESULTS)))
        return all(k in got and figures(got[k]) == w for k, w in want.items())

    gateway_addr = f"127.0.0.1:{free_port()}"
    try:
        with running_worker(namespace, logs / "worker.log",
                            **security_env(secure_kafka, namespace, "worker", tmp_path)) as worker:
            wait_for(exact, 300, what="state-results equal to the simulator's truth", alive=worker)
        with votewire_process(["gateway", "--addr", gateway_addr], env["gateway"], logs / "gateway.log") as gateway:
            wait_for(lambda: http_status(f"http://{gateway_addr}/readyz") == 200, 90, every_s=0.3,
                     what="gateway ready", alive=gateway)
            for key, t in truth["races"].items():
                election, race, state, _ = key.split("/")
                served = get_json(f"http://{gateway_addr}/v1/results/{election}/{race}/{state}")
                assert served["total_votes"] == t["total_votes"], key
    except BaseException:
        print_log_tails(logs / "worker.log", logs / "gateway.log")
        raise

    outputs = [published.stdout, published.stderr, replayed.stdout, replayed.stderr,
               (logs / "worker.log").read_text(errors="replace"),
               (logs / "gateway.log").read_text(errors="replace")]
    for role in acls.ROLES:
        password = secure_kafka.passwords[role].reveal()
        assert not any(password in text for text in outputs), f"{role}'s password in an output"


async def can_write(settings: Settings, topic: str) -> bool:
    producer = AIOKafkaProducer(**kafka_connection(settings), request_timeout_ms=20_000)
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic(topic), b"{}", key=b"2024-11-05/president/MN")
        return True
    except TopicAuthorizationFailedError:
        return False
    finally:
        await producer.stop()


async def can_read(settings: Settings, topic: str, group: str | None = None) -> bool:
    """A subscription: its metadata request is refused at once for a topic we may not read (an
    assignment would wait for partitions forever instead). With `group`, as a member of that
    consumer group, which it may then commit for or reset: refused unless it may read the group."""
    from aiokafka.errors import GroupAuthorizationFailedError

    consumer = AIOKafkaConsumer(settings.topic(topic), **kafka_connection(settings), group_id=group,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    try:
        await consumer.start()
        await consumer.getmany(timeout_ms=1000 if group is None else 5000)  # joining takes longer
        return True
    except (TopicAuthorizationFailedError, GroupAuthorizationFailedError):
        return False
    finally:
        await consumer.stop()


# (role, topic, may write, may read): the contract of streams.kafka.acls, checked on the broker.
RIGHTS = [
    ("feed", contract.PRECINCT_RESULTS, True, False),
    ("feed", contract.RACE_DEFINITIONS, False, False),  # a feed cannot move an embargo or certify a race
    ("feed", contract.EXPECTED_VOTES, False, False),
    ("feed", contract.STATE_RESULTS, False, False),
    ("feed", contract.RACE_CALLS, False, False),  # nor call a race
    ("desk", contract.RACE_DEFINITIONS, True, False),
    ("desk", contract.RACE_CALLS, True, False),
    ("desk", contract.EXPECTED_VOTES, True, False),
    ("desk", contract.PRECINCT_RESULTS, False, False),
    ("desk", contract.STATE_RESULTS, False, False),
    ("gateway", contract.STATE_RESULTS, False, True),
    ("gateway", contract.PRECINCT_RESULTS, False, False),
    ("gateway", contract.DEAD_LETTERS, False, False),
    ("worker", contract.PRECINCT_RESULTS, False, True),
    ("worker", contract.STATE_RESULTS, True, False),
    ("worker", contract.RACE_CALLS, False, True),
]


def test_each_principal_may_do_its_job_and_nothing_else(secure_kafka: SecureKafka, namespace: Settings) -> None:
    async def rights(role: str, topic: str) -> tuple[bool, bool]:
        login = secure_kafka.login(namespace, role)
        return await can_write(login, topic), await can_read(login, topic)

    async def check_all() -> list[tuple[str, str, bool, bool]]:
        return [(role, topic, *await rights(role, topic)) for role, topic, _, _ in RIGHTS]

    assert run(check_all(), 300) == RIGHTS


def test_the_desk_calls_a_race_and_a_feed_cannot(secure_kafka: SecureKafka, namespace: Settings,
                                                 tmp_path: Path) -> None:
    """`votewire call` with the desk's credential puts the call on race-calls; with a feed's it is
    refused in one line, and nothing is written."""
    args = ["call", "2024-11-05/senate/MN", "--winner", "klobuchar", "--by", "Star Tribune desk"]
    refused = votewire(args, role_env(secure_kafka, namespace, "feed", tmp_path))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert refused.stderr.strip().splitlines()[-1].startswith(
        f"votewire call: this user may not write topic {namespace.topic(contract.RACE_CALLS)} "), refused.stderr
    assert "Traceback" not in refused.stderr
    called = votewire(args, role_env(secure_kafka, namespace, "desk", tmp_path))
    assert called.returncode == 0, called.stderr
    records = run(read_topic(secure_kafka.as_admin(namespace), contract.RACE_CALLS))
    assert [(r.key, r.value["status"], r.value["winners"], r.value["by"]) for r in records] == [
        ("2024-11-05/senate/MN/live", "called", ["klobuchar"], "Star Tribune desk")]


async def can_fence(settings: Settings, transactional_id: str) -> bool:
    """Whether `settings`' principal may start a producer with `transactional_id` (and so fence
    the worker whose snapshot producer has it)."""
    from aiokafka.errors import TransactionalIdAuthorizationFailed

    producer = AIOKafkaProducer(**kafka_connection(settings), transactional_id=transactional_id,
                                request_timeout_ms=20_000)
    try:
        await producer.start()
        return True
    except TransactionalIdAuthorizationFailed:
        return False
    finally:
        await producer.stop()


async def can_create(settings: Settings, topic: str) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(**kafka_connection(settings))
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        return all(code == 0 for _, code, *_ in response.topic_errors)
    finally:
        await admin.close()


def test_a_principal_cannot_use_another_ones_group(secure_kafka: SecureKafka, namespace: Settings) -> None:
    """The gateway reads without a group; it may not join (or reset) the worker's."""
    gateway = secure_kafka.login(namespace, "gateway")
    assert run(can_read(gateway, contract.STATE_RESULTS, namespace.topic(namespace.app_id)), 120) is False


def test_another_app_id_cannot_use_the_workers_grants(secure_kafka: SecureKafka, namespace: Settings) -> None:
    """The app id `votewire-X-staging` starts with the worker's `votewire-X`: grants PREFIXED on
    the app id would let the worker's credential create and write the staging worker's re-key
    topic, join its group and fence its snapshot producers. With exact names it can do none."""
    staging = namespace.topic(f"{namespace.app_id}-staging")  # the staging worker's app id, prefixed
    rekeyed = f"{staging}-precinct-results-rekeyed"
    worker = secure_kafka.login(namespace, "worker")
    bare = worker.with_(topic_prefix="")  # for the full names above

    async def rights() -> tuple[bool, ...]:
        created = await can_create(bare, rekeyed)
        if not created:  # the staging worker's own start would have made it
            await can_create(secure_kafka.as_admin(namespace), rekeyed)
        groups = [await can_read(worker, contract.PRECINCT_RESULTS, group)
                  for group in (staging, f"{staging}-race-book")]
        return (created, await can_write(bare, rekeyed), await can_read(bare, rekeyed), *groups,
                await can_fence(worker, f"{staging}-snapshots-0"))

    assert run(rights(), 300) == (False,) * 6
    assert run(can_fence(worker, f"{namespace.topic(namespace.app_id)}-snapshots-0"), 120)  # its own: yes


def test_a_wrong_password_is_one_clear_error(secure_kafka: SecureKafka, namespace: Settings,
                                             tmp_path: Path) -> None:
    wrong = "not-the-worker-password"
    env = role_env(secure_kafka, namespace, "worker", tmp_path, password=wrong)
    env["VOTEWIRE_WORKER_WEB_ADDR"] = f"127.0.0.1:{free_port()}"
    for args in (["worker"], ["replay", "--max", "/dev/null"], ["gateway", "--addr", f"127.0.0.1:{free_port()}"]):
        done = votewire(args, env, timeout_s=120)  # a worker retrying forever would time out here
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        lines = (done.stdout + done.stderr).strip().splitlines()
        assert lines == [f"votewire {args[0]}: the broker at {namespace.bootstrap} refused the login of SASL_SSL "
                         "as 'worker' (SCRAM-SHA-512): check VOTEWIRE_SASL_USERNAME and the password "
                         "(VOTEWIRE_SASL_PASSWORD or VOTEWIRE_SASL_PASSWORD_FILE)"], args
        assert wrong not in done.stdout + done.stderr


def test_an_untrusted_broker_certificate_is_one_clear_error(secure_kafka: SecureKafka, namespace: Settings,
                                                            tmp_path: Path) -> None:
    env = role_env(secure_kafka, namespace, "feed", tmp_path)
    env["VOTEWIRE_SSL_CAFILE"] = ""  # the system's CAs did not sign the test's broker
    done = votewire(["replay", "--max", "/dev/null"], env, timeout_s=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"votewire replay: the broker at {namespace.bootstrap} presented a certificate we do not trust "
        "(unable to get local issuer certificate): check VOTEWIRE_SSL_CAFILE"]


def test_the_admin_password_never_reaches_a_client_log(secure_kafka: SecureKafka) -> None:
    """The broker's own files hold it (its JAAS line); `votewire kafka status` does not print it."""
    assert secure_kafka.broker.security is not None
    password = secure_kafka.broker.security.admin_password.reveal()
    assert password not in repr(secure_kafka.broker)
    assert password not in repr(secure_kafka.as_admin(secure_kafka.broker.settings))
    assert ADMIN in repr(secure_kafka.as_admin(secure_kafka.broker.settings))
