"""Which log a checkpoint's offsets belong to: the cluster's id and the input topics' ids.

A topic deleted and created again under the same name is another log, numbered from 0 again;
a broker that lost its data (`docker compose down && up` without a volume) is another cluster.
Offsets mean nothing across either, so a checkpoint records both (streams.worker.checkpoint),
with the group (the app id) they are committed in.

Topic ids (KIP-516) come with Metadata v10 and later; aiokafka 0.14 speaks Metadata up to v5,
which has the cluster id but no topic ids, and has no other call that returns them. So this
module sends Metadata v12 itself (Kafka 2.8 and later answer it), through the admin client's
`_send_request` as streams.kafka.acls does for CreateAcls: its structs are aiokafka's own building
blocks (flexible versions: compact strings and arrays, tagged fields), plus the 16-byte UUID.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from aiokafka.protocol.abstract import AbstractType
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import Boolean, CompactArray, CompactString, Int16, Int32, Schema, TaggedFields

from streams.errors import BrokerError
from streams.kafka.clients import kafka_client
from streams.settings import Settings


@dataclass(frozen=True)
class LogIdentity:
    """The log a checkpoint's offsets count in, as the broker names it (`log_identity`)."""

    cluster_id: str
    app_id: str  # the group the offsets are committed in
    topics: tuple[tuple[str, str, int], ...]  # (name, topic id, partitions) of each input topic, by name

    def differences(self, other: LogIdentity) -> list[str]:
        """What differs from `other` (the log as it is now), in words."""
        said = [f"cluster {self.cluster_id}, now {other.cluster_id}"] if self.cluster_id != other.cluster_id else []
        said += [f"app id {self.app_id}, now {other.app_id}"] if self.app_id != other.app_id else []
        if self.topics != other.topics:
            said.append("topics " + _topics_text(self.topics) + ", now " + _topics_text(other.topics))
        return said


def _topics_text(topics: tuple[tuple[str, str, int], ...]) -> str:
    return ", ".join(f"{name} (id {topic_id}, {partitions} partitions)" for name, topic_id, partitions in topics)


class Uuid(AbstractType[str]):  # type: ignore[misc]  # aiokafka's types are untyped to mypy here
    """Kafka's UUID: 16 bytes on the wire; shown as Kafka's tools show a topic id (base64url)."""

    @classmethod
    def encode(cls, value: str) -> bytes:
        return base64.urlsafe_b64decode(value + "==") if value else bytes(16)

    @classmethod
    def decode(cls, data: BytesIO) -> str:
        return base64.urlsafe_b64encode(data.read(16)).rstrip(b"=").decode()


class MetadataResponse_v12(Response):  # type: ignore[misc]  # named as aiokafka names its versions
    API_KEY = 3
    API_VERSION = 12
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("brokers", CompactArray(("node_id", Int32), ("host", CompactString("utf-8")), ("port", Int32),
                                 ("rack", CompactString("utf-8")), ("tags", TaggedFields))),
        ("cluster_id", CompactString("utf-8")),
        ("controller_id", Int32),
        ("topics", CompactArray(
            ("error_code", Int16), ("name", CompactString("utf-8")), ("topic_id", Uuid), ("is_internal", Boolean),
            ("partitions", CompactArray(
                ("error_code", Int16), ("partition_index", Int32), ("leader_id", Int32), ("leader_epoch", Int32),
                ("replica_nodes", CompactArray(Int32)), ("isr_nodes", CompactArray(Int32)),
                ("offline_replicas", CompactArray(Int32)), ("tags", TaggedFields))),
            ("topic_authorized_operations", Int32), ("tags", TaggedFields))),
        ("tags", TaggedFields),
    )


class MetadataRequest_v12(RequestStruct):  # type: ignore[misc]
    FLEXIBLE_VERSION = True
    API_KEY = 3
    API_VERSION = 12
    RESPONSE_TYPE = MetadataResponse_v12
    SCHEMA = Schema(
        ("topics", CompactArray(("topic_id", Uuid), ("name", CompactString("utf-8")), ("tags", TaggedFields))),
        ("allow_auto_topic_creation", Boolean),
        ("include_topic_authorized_operations", Boolean),
        ("tags", TaggedFields),
    )


class TopicIdsRequest(Request[MetadataRequest_v12]):  # type: ignore[misc]
    """Metadata of named topics, never creating one."""

    API_KEY = 3

    def __init__(self, topics: Iterable[str]) -> None:
        self._topics = list(topics)

    def build(self, request_struct_class: type[MetadataRequest_v12]) -> MetadataRequest_v12:
        return request_struct_class([("", name, {}) for name in self._topics], False, False, {})


async def log_identity(settings: Settings, topics: Iterable[str], app_id: str) -> LogIdentity:
    """The cluster id, and each topic's id and partition count, as the broker says now."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = kafka_client(AIOKafkaAdminClient, settings)
    await admin.start()
    try:
        response: Any = await admin._send_request(TopicIdsRequest(topics))  # private: see the module's note
    finally:
        await admin.close()
    found = response.to_object()
    failed = [f"{t['name']}: error {t['error_code']}" for t in found["topics"] if t["error_code"]]
    if failed:
        raise BrokerError("cannot read the ids of topics " + "; ".join(failed))
    return LogIdentity(found["cluster_id"], app_id, tuple(sorted(
        (t["name"], t["topic_id"], len(t["partitions"])) for t in found["topics"])))
