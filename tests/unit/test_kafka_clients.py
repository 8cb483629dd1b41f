"""Every Kafka client under streams/ comes from the one factory that applies the connection
settings (issue 18 item 8: `rebuild.committed_offsets` built a bare consumer, without the
security every other client had: on a SASL cluster it could not log in)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from streams.kafka.clients import kafka_client
from streams.settings import Secret, Settings

STREAMS = Path(__file__).resolve().parents[2] / "streams"
FACTORY = STREAMS / "kafka" / "clients.py"
CLIENT_CLASSES = {"AIOKafkaConsumer", "AIOKafkaProducer", "AIOKafkaAdminClient", "AIOKafkaClient"}


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def client_constructions(path: Path, root: Path = STREAMS.parent) -> list[str]:
    """`file:line name` of every direct construction of an aiokafka client, and of every faust
    App built without `broker_credentials` (its consumer, producer and admin would log in bare)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        name = _called_name(node)
        bare_app = name == "App" and not any(k.arg == "broker_credentials" for k in node.keywords)
        if name in CLIENT_CLASSES or bare_app:
            found.append(f"{path.relative_to(root)}:{node.lineno} {name}")
    return found


def test_no_module_builds_a_kafka_client_but_the_factory() -> None:
    modules = sorted(p for p in STREAMS.rglob("*.py") if p != FACTORY)
    assert [c for path in modules for c in client_constructions(path)] == []


def test_the_scan_sees_a_bare_client(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from aiokafka import AIOKafkaConsumer\nc = AIOKafkaConsumer(bootstrap_servers='h:1')\n"
                      "import faust\napp = faust.App('x', broker='kafka://h:1')\n")
    assert client_constructions(sample, tmp_path) == ["sample.py:2 AIOKafkaConsumer", "sample.py:4 App"]


class Recorder:
    """Stands for a client class: keeps what it was built with."""

    def __init__(self, *topics: str, **options: Any) -> None:
        self.topics, self.options = topics, options


def test_the_factory_gives_every_client_the_settings_security() -> None:
    settings = Settings.from_env({}, bootstrap="h:1").with_(
        security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-512", sasl_username="worker",
        sasl_password=Secret("s3cret"), allow_plaintext_sasl=True)  # no TLS: no CA file to build a context from
    client = kafka_client(Recorder, settings, "t", group_id="g")
    assert client.topics == ("t",)
    assert client.options == {"bootstrap_servers": "h:1", "security_protocol": "SASL_PLAINTEXT",
                              "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "worker",
                              "sasl_plain_password": "s3cret", "group_id": "g"}


def test_an_option_that_would_override_the_connection_is_refused() -> None:
    with pytest.raises(TypeError, match="bootstrap_servers"):
        kafka_client(Recorder, Settings.from_env({}), bootstrap_servers="elsewhere:9092")
