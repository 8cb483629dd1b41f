"""The contract's topics, created with the right partitions and cleanup policy.

Producers must not rely on broker auto-creation: an auto-created `race-definitions` would be
a delete-policy topic with the broker's default partition count, and compaction (keep the
latest definition per key forever) would silently not happen.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from streams import contract
from streams.errors import BrokerError, ConfigError
from streams.kafka.clients import kafka_client
from streams.settings import Settings

if TYPE_CHECKING:
    from aiokafka import TopicPartition

# The contract refuses payloads over 1 MiB as dead letters. For that to happen at all, such a
# record must reach the worker: the input and dead-letter topics (and our producers) accept
# records up to 4 MiB, instead of Kafka's default ~1 MiB that would refuse it at the producer,
# where nobody downstream would ever see it.
MAX_MESSAGE_BYTES = 4 * contract.MAX_PAYLOAD_BYTES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    compact: bool
    oversize: bool = False  # may carry records past the contract's 1 MiB limit
    # The log workers rebuild their tallies from (streams.worker.rebuild): kept for good, never deleted
    # by age, or a restart after the retention would lose every report older than it.
    log: bool = False


CONTRACT_TOPICS = (
    TopicSpec(contract.RACE_DEFINITIONS, compact=True, oversize=True),
    TopicSpec(contract.EXPECTED_VOTES, compact=True, oversize=True),
    TopicSpec(contract.PRECINCT_RESULTS, compact=False, oversize=True, log=True),
    TopicSpec(contract.STATE_RESULTS, compact=True),
    TopicSpec(contract.COUNTY_RESULTS, compact=True),
    TopicSpec(contract.RESULTS_ALERTS, compact=False),
    TopicSpec(contract.DEAD_LETTERS, compact=False, oversize=True),
)


@functools.lru_cache(maxsize=65_536)
def key_hash(key: bytes) -> int:
    """The Java client's (and aiokafka's default) key hash: murmur2, made non-negative. Modulo a
    topic's partition count it is the partition any default producer picks for the key. Cached:
    a night has few distinct keys, and aiokafka's murmur2 is pure Python."""
    from aiokafka.partitioner import murmur2

    return int(murmur2(key)) & 0x7FFFFFFF


def home_partition(state_key: str, partitions: int) -> int:
    """The partition the default (murmur2) partitioner gives this key among `partitions`: where
    the tallies of every race of a state live (design rule 3, the key `{election_id}/{state}`)."""
    return key_hash(state_key.encode()) % partitions


async def topic_partitions(consumer: Any, topic: str) -> list[TopicPartition]:
    """Every partition of `topic`, for a consumer that assigns itself (reads from the beginning).

    A consumer only knows the metadata of topics it has asked about; aiokafka has no public way
    to ask, so this refreshes its metadata once when the topic is not known yet."""
    from aiokafka import TopicPartition

    parts = consumer.partitions_for_topic(topic)
    if parts is None:
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic) or set()
    return [TopicPartition(topic, p) for p in sorted(parts)]


def topic_configs(spec: TopicSpec) -> dict[str, str]:
    size = {"max.message.bytes": str(MAX_MESSAGE_BYTES)} if spec.oversize else {}
    if spec.compact:
        # Snapshots and definitions: the latest per key is what matters. A short dirty ratio
        # keeps a restarted gateway's catch-up read small.
        return {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1", "segment.ms": "3600000", **size}
    retention_ms = -1 if spec.log else 14 * 24 * 3600 * 1000
    return {"cleanup.policy": "delete", "retention.ms": str(retention_ms), **size}


def replication_for(settings: Settings, brokers: int) -> tuple[int, int]:
    """(replication factor, min ISR) for new topics on a cluster of `brokers` live brokers.

    The settings' production defaults (3 and 2) as they are when the cluster has enough brokers.
    A single broker is a development one (`votewire kafka start`): 1 and 1, with a note, so the
    defaults need no change on a laptop. Two brokers for three copies is not development: that
    is a production cluster missing a broker, and topics made now would stay under-replicated
    for good, so it is an error rather than a quiet downgrade."""
    wanted, min_isr = settings.replication_factor, settings.min_insync_replicas
    if not 1 <= min_isr <= wanted:
        raise ConfigError(f"VOTEWIRE_MIN_INSYNC_REPLICAS={min_isr} must be between 1 and "
                          f"VOTEWIRE_REPLICATION_FACTOR={wanted}")
    if brokers >= wanted:
        return wanted, min_isr
    if brokers == 1:
        log.warning("one broker at %s: new topics get replication factor 1 and min ISR 1 instead of "
                    "VOTEWIRE_REPLICATION_FACTOR=%d and VOTEWIRE_MIN_INSYNC_REPLICAS=%d (fine for development, "
                    "never for production)", settings.bootstrap, wanted, min_isr)
        return 1, 1
    raise BrokerError(f"{brokers} brokers answer at {settings.bootstrap}, fewer than VOTEWIRE_REPLICATION_FACTOR="
                      f"{wanted}: bring the missing brokers back, or lower the setting on purpose")


async def ensure_topics(settings: Settings, timeout_s: float = 30.0, extra: tuple[TopicSpec, ...] = ()) -> list[str]:
    """Create every missing contract topic (and `extra` ones, full names); returns the names created.

    Every command that talks to Kafka starts here, so an unreachable broker is one clear error."""
    from aiokafka.errors import KafkaError

    try:
        return await _create_missing(settings, timeout_s, extra)
    except (KafkaError, TimeoutError) as e:
        raise BrokerError(f"cannot create topics at {settings.bootstrap} ({e}); is the broker running? "
                          f"(`votewire kafka start` starts a local one)") from e


async def _create_missing(settings: Settings, timeout_s: float, extra: tuple[TopicSpec, ...]) -> list[str]:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = kafka_client(AIOKafkaAdminClient, settings, request_timeout_ms=int(timeout_s * 1000))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        specs = [TopicSpec(settings.topic(s.name), s.compact, s.oversize, s.log) for s in CONTRACT_TOPICS] + list(extra)
        wanted = [s for s in specs if s.name not in existing]
        if not wanted:
            return []
        replication, min_isr = replication_for(settings, len((await admin.describe_cluster())["brokers"]))
        response = await admin.create_topics([
            NewTopic(s.name, num_partitions=settings.partitions, replication_factor=replication,
                     topic_configs={**topic_configs(s), "min.insync.replicas": str(min_isr)})
            for s in wanted])
        return created_topics(response.topic_errors)
    finally:
        await admin.close()


# A client only sees the topics its ACLs let it describe: the others look missing, and it may
# not create them either. That is no error here; a client that needs one of them fails on it.
NOT_OURS = {29: "topic authorization failed", 31: "cluster authorization failed", 36: "topic already exists"}


def created_topics(topic_errors: list[tuple[Any, ...]]) -> list[str]:
    """The topics a CreateTopics response says were created; a `BrokerError` for a real failure."""
    failed = [f"{name}: {err[-1] or err[0]}" for name, *err in topic_errors if err[0] and err[0] not in NOT_OURS]
    if failed:
        raise BrokerError("cannot create topics: " + "; ".join(failed))
    return [name for name, code, *_ in topic_errors if code == 0]


async def live_brokers(settings: Settings, timeout_s: float = 30.0) -> int:
    """How many brokers answer in the cluster's metadata now."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = kafka_client(AIOKafkaAdminClient, settings, request_timeout_ms=int(timeout_s * 1000))
    await admin.start()
    try:
        return len((await admin.describe_cluster())["brokers"])
    finally:
        await admin.close()



