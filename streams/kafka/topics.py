"""The contract's topics, created with the right partitions and cleanup policy.

Producers must not rely on broker auto-creation: an auto-created `race-definitions` would be
a delete-policy topic with the broker's default partition count, and compaction (keep the
latest definition per key forever) would silently not happen.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from streams import contract
from streams.errors import BrokerError, ConfigError
from streams.kafka.clients import kafka_client, require_broker
from streams.settings import Settings

if TYPE_CHECKING:
    from aiokafka import TopicPartition

# The contract refuses payloads over 1 MiB as dead letters. For that to happen at all, such a
# record must reach the worker: the input and dead-letter topics (and our producers) accept
# records up to 4 MiB, instead of Kafka's default ~1 MiB that would refuse it at the producer,
# where nobody downstream would ever see it.
MAX_MESSAGE_BYTES = 4 * contract.MAX_PAYLOAD_BYTES
KEEP_FOREVER = ("retention.ms", "retention.bytes")  # of a log topic (TopicSpec.log), each must be -1

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
    TopicSpec(contract.BASELINES, compact=True, oversize=True),
    TopicSpec(contract.RACE_CALLS, compact=True),  # the latest call per race and mode
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
    if spec.log:  # by age or by size (a broker's log.retention.bytes), nothing is deleted
        return {"cleanup.policy": "delete", **dict.fromkeys(KEEP_FOREVER, "-1"), **size}
    return {"cleanup.policy": "delete", "retention.ms": str(14 * 24 * 3600 * 1000), **size}


def replication_for(settings: Settings, brokers: int, *, single_broker_expected: bool = False) -> tuple[int, int]:
    """(replication factor, min ISR) for new topics on a cluster of `brokers` live brokers.

    The settings' production defaults (3 and 2) as they are when the cluster has enough brokers.
    A single broker is a development one (`votewire kafka start`): 1 and 1, with a note, so the
    defaults need no change on a laptop. The note is a warning, since a command pointed at a
    real cluster that answers with one broker deserves one, unless the caller runs on a single
    development broker on purpose (`single_broker_expected`: the demo), where it is info. Two
    brokers for three copies is not development: that is a production cluster missing a broker,
    and topics made now would stay under-replicated for good, so it is an error rather than a
    quiet downgrade."""
    wanted, min_isr = settings.replication_factor, settings.min_insync_replicas
    if not 1 <= min_isr <= wanted:
        raise ConfigError(f"VOTEWIRE_MIN_INSYNC_REPLICAS={min_isr} must be between 1 and "
                          f"VOTEWIRE_REPLICATION_FACTOR={wanted}")
    if brokers >= wanted:
        return wanted, min_isr
    if brokers == 1:
        log.log(logging.INFO if single_broker_expected else logging.WARNING,
                "one broker at %s: new topics get replication factor 1 and min ISR 1 instead of "
                "VOTEWIRE_REPLICATION_FACTOR=%d and VOTEWIRE_MIN_INSYNC_REPLICAS=%d (fine for development, "
                "never for production)", settings.bootstrap, wanted, min_isr)
        return 1, 1
    raise BrokerError(f"{brokers} brokers answer at {settings.bootstrap}, fewer than VOTEWIRE_REPLICATION_FACTOR="
                      f"{wanted}: bring the missing brokers back, or lower the setting on purpose")


async def ensure_topics(settings: Settings, timeout_s: float = 30.0, extra: tuple[TopicSpec, ...] = (), *,
                        single_broker_expected: bool = False) -> list[str]:
    """Create every missing contract topic (and `extra` ones, full names); returns the names created.

    Every command that talks to Kafka starts here, so an unreachable broker is one clear error.
    `single_broker_expected`: see `replication_for`."""
    from aiokafka.errors import KafkaError

    await require_broker(settings)
    try:
        return await _create_missing(settings, timeout_s, extra, single_broker_expected)
    except (KafkaError, TimeoutError) as e:
        raise BrokerError(f"cannot create topics at {settings.bootstrap} ({e}); is the broker running? "
                          f"(`votewire kafka start` starts a local one)") from e


async def _create_missing(settings: Settings, timeout_s: float, extra: tuple[TopicSpec, ...],
                          single_broker_expected: bool) -> list[str]:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = kafka_client(AIOKafkaAdminClient, settings, request_timeout_ms=int(timeout_s * 1000))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        specs = [TopicSpec(settings.topic(s.name), s.compact, s.oversize, s.log) for s in CONTRACT_TOPICS] + list(extra)
        wanted = [s for s in specs if s.name not in existing]
        if not wanted:
            return []
        brokers = len((await admin.describe_cluster())["brokers"])
        replication, min_isr = replication_for(settings, brokers, single_broker_expected=single_broker_expected)
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


# The settings a worker's results depend on, checked at its start rather than trusted.
UNKNOWN_TOPIC, LEADER_NOT_AVAILABLE, NOT_AUTHORIZED = 3, 5, 29
NOT_YET = (UNKNOWN_TOPIC, LEADER_NOT_AVAILABLE)  # a topic being created, or not heard of by this broker yet


@dataclass(frozen=True)
class TopicFacts:
    """What the broker says of one topic: None where it says nothing (missing, not allowed)."""

    partitions: int | None
    configs: dict[str, str] | None
    hidden: bool = False  # this user may not even describe it


def topic_problems(spec: TopicSpec, facts: TopicFacts, partitions: int) -> list[str]:
    """One line per way the topic differs from what the worker relies on (empty: none)."""
    if facts.hidden:
        return [f"topic {spec.name} cannot be described by this user: it needs the worker's ACLs (README, Security)"]
    if facts.partitions is None:
        return [f"topic {spec.name} does not exist: create it with `votewire topics create`"]
    if facts.configs is None:
        return [f"the configuration of topic {spec.name} cannot be read: grant this user DESCRIBE_CONFIGS on it "
                "(README, Security)"]
    problems = _policy_problems(spec, facts.configs.get("cleanup.policy", ""))
    return problems + _log_problems(spec, facts.configs, facts.partitions, partitions) if spec.log else problems


def _policy_problems(spec: TopicSpec, policy: str) -> list[str]:
    """A compacted topic keeps the latest record per key, and only then: `delete` beside it
    would drop a race definition by age. Alerts or dead letters under compaction would leave
    one per key."""
    if spec.compact and policy != "compact":
        return [f"topic {spec.name} has cleanup.policy={policy}, not compact: the latest record per key "
                "must be kept, and only by compaction"]
    if not spec.compact and "compact" in policy:
        return [f"topic {spec.name} has cleanup.policy={policy}: compaction would keep one record per key "
                "and drop the others; it must be delete"]
    return []


def _log_problems(spec: TopicSpec, configs: dict[str, str], found: int, partitions: int) -> list[str]:
    """Tallies are rebuilt from a log topic: a record deleted by age or size is a unit lost at
    the next rebuild. Its partition count is the modulus of every race's home partition."""
    problems = [f"topic {spec.name} has {name}={configs.get(name)}: the worker rebuilds its tallies from "
                f"this log, so it must keep every record ({name}=-1)"
                for name in KEEP_FOREVER if configs.get(name) != "-1"]
    if found != partitions:
        problems.append(f"topic {spec.name} has {found} partitions but VOTEWIRE_PARTITIONS={partitions}: a race's "
                        "partition is its key's hash modulo the count, so they must be equal")
    return problems


async def check_topics(settings: Settings, extra: tuple[TopicSpec, ...] = (), timeout_s: float = 30.0) -> list[str]:
    """Every problem of the contract topics (and `extra` ones, full names) a worker relies on."""
    from aiokafka.errors import KafkaError

    specs = [TopicSpec(settings.topic(s.name), s.compact, s.oversize, s.log) for s in CONTRACT_TOPICS] + list(extra)
    names = [s.name for s in specs]
    try:
        facts = await settled_facts(lambda: _topic_facts(settings, names, timeout_s), SETTLE_S)
    except (KafkaError, TimeoutError) as e:
        raise BrokerError(f"cannot describe the topics at {settings.bootstrap} ({e})") from e
    return [line for s in specs for line in topic_problems(s, facts[s.name], settings.partitions)]


# How long a topic that one broker knows may take to reach the others: a worker checks right
# after creating topics, or after another worker of its group did, and asks whichever broker.
SETTLE_S = 15.0


def unsettled(facts: dict[str, TopicFacts]) -> bool:
    """A topic missing, or described without its configuration, may be one this broker has not
    heard of yet (created a moment ago through another one)."""
    return any((f.partitions is None and not f.hidden) or (f.partitions is not None and f.configs is None)
               for f in facts.values())


async def settled_facts(fetch: Callable[[], Awaitable[dict[str, TopicFacts]]], settle_s: float,
                        every_s: float = 0.5) -> dict[str, TopicFacts]:
    """`fetch()` again while its answer is `unsettled`, for up to `settle_s`; then the last answer,
    which `topic_problems` turns into one line per topic still missing."""
    deadline = time.monotonic() + settle_s
    facts = await fetch()
    while unsettled(facts) and time.monotonic() < deadline:
        await asyncio.sleep(every_s)
        facts = await fetch()
    return facts


async def _topic_facts(settings: Settings, names: list[str], timeout_s: float) -> dict[str, TopicFacts]:
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
    from aiokafka.protocol.metadata import MetadataRequest

    admin = kafka_client(AIOKafkaAdminClient, settings, request_timeout_ms=int(timeout_s * 1000))
    await admin.start()
    try:
        # Not `describe_topics`: it lets the broker auto-create a missing topic, with its defaults.
        metadata: Any = await admin._send_request(MetadataRequest(names, allow_auto_topic_creation=False))
        described = {t["topic"]: t for t in metadata.to_object()["topics"]}
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
    finally:
        await admin.close()
    configs = {name: {entry[0]: entry[1] for entry in entries}
               for response in responses for code, _, _, name, entries in response.resources if code == 0}
    errors = {name: t["error_code"] for name, t in described.items()}
    unknown = [f"{n}: error {errors[n]}" for n in names if errors.get(n) not in (0, *NOT_YET, NOT_AUTHORIZED)]
    if unknown:
        raise BrokerError("cannot describe topics: " + "; ".join(unknown))
    return {n: TopicFacts(len(described[n]["partitions"]) if errors.get(n) == 0 else None, configs.get(n),
                          hidden=errors.get(n) == NOT_AUTHORIZED) for n in names}

