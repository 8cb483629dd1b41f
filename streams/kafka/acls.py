"""The Kafka ACLs each votewire process needs, and nothing more.

Four principals, four roles (README, Security): a `feed` writes precinct reports, the `desk`
writes the race book (definitions, expected votes, baselines and race calls: what moves an
embargo, certifies or calls a race or steers the model, so no feed may touch it), a `worker`
reads them and writes the outputs, its internal topics and its consumer groups, a `gateway`
reads the output topics. The integration tests grant exactly these on a broker with
`allow.everyone.if.no.acl.found=false` and prove each role can do its job and nothing else.

Notes for a reader who knows Kafka's ACLs:
- No DESCRIBE: Kafka implies it from READ and WRITE (clients fetch a topic's metadata first).
- No IDEMPOTENT_WRITE on the cluster: since Kafka 3.0 (KIP-679) WRITE on a topic allows an
  idempotent producer to write it (replay's).
- Every grant of the worker is LITERAL. A PREFIXED `votewire` would also match the names of
  an app id `votewire-staging` (its groups, its re-key topic, its snapshot producers): one
  credential would then be able to disturb another namespace's worker. The names are all known:
  its re-key topic and faust's leader topic, its two groups, and one transactional id per home
  partition (`<app_id>-snapshots-<partition>`, streams.worker.publisher), so the partition
  count is part of the grant (more partitions, grant again).
- DESCRIBE_CONFIGS on every topic it reads or writes: at start it checks their cleanup policy,
  retention and partitions (streams.kafka.topics.check_topics) rather than trust them.
- Nobody but an admin creates the contract topics (`votewire topics create`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams import contract
from streams.errors import BrokerError
from streams.kafka.clients import kafka_client
from streams.settings import Settings

# Kafka's wire codes (org.apache.kafka.common.resource / acl).
RESOURCE_TYPES = {"TOPIC": 2, "GROUP": 3, "CLUSTER": 4, "TRANSACTIONAL_ID": 5}
PATTERN_TYPES = {"LITERAL": 3, "PREFIXED": 4}
OPERATIONS = {"ALL": 2, "READ": 3, "WRITE": 4, "CREATE": 5, "DELETE": 6, "ALTER": 7, "DESCRIBE": 8,
              "DESCRIBE_CONFIGS": 10, "IDEMPOTENT_WRITE": 12}
ALLOW = 3

FEED_TOPICS = (contract.PRECINCT_RESULTS,)
# What the desk publishes, never FEED_TOPICS: a feed's credential must not be able to call a
# race, move an embargo, or feed the model of the vote still out a baseline of its choosing.
DESK_TOPICS = (contract.RACE_DEFINITIONS, contract.EXPECTED_VOTES, contract.BASELINES, contract.RACE_CALLS)
INPUTS = DESK_TOPICS + FEED_TOPICS
OUTPUTS = (contract.STATE_RESULTS, contract.COUNTY_RESULTS, contract.RESULTS_ALERTS, contract.DEAD_LETTERS)
# What the gateway serves: snapshots and alerts, never dead letters (they hold raw input).
SERVED = (contract.STATE_RESULTS, contract.COUNTY_RESULTS, contract.RESULTS_ALERTS)
ROLES = ("feed", "desk", "worker", "gateway")


@dataclass(frozen=True)
class Acl:
    """One ALLOW rule for a principal: `operation` on `resource` `name` (a `pattern`)."""

    resource: str
    pattern: str
    name: str
    operation: str

    def __str__(self) -> str:
        return f"{self.resource} {self.pattern} {self.name!r}: {self.operation}"


def role_acls(role: str, settings: Settings) -> list[Acl]:
    """The ACLs `role` needs with these settings (topic prefix, app id, partitions)."""
    if role == "feed":
        return _topics(settings, FEED_TOPICS, "WRITE")
    if role == "desk":
        return _topics(settings, DESK_TOPICS, "WRITE")
    if role == "gateway":
        return _topics(settings, SERVED, "READ")
    if role == "worker":
        return worker_acls(settings)
    raise ValueError(f"unknown role {role!r}: one of {', '.join(ROLES)}")


def worker_acls(settings: Settings) -> list[Acl]:
    own = settings.topic(settings.app_id)  # the app id as faust sees it (streams.worker.app.app_id)
    internal = (f"{own}-precinct-results-rekeyed", f"{own}-__assignor-__leader")  # faust's leader topic
    groups = (own, f"{own}-race-book")  # faust's group, and the race book's (streams.worker.book_reader)
    producers = [f"{own}-snapshots-{partition}" for partition in range(settings.partitions)]
    return [*_topics(settings, INPUTS, "READ"), *_topics(settings, OUTPUTS, "WRITE"),
            *[Acl("TOPIC", "LITERAL", name, op) for name in internal for op in ("CREATE", "READ", "WRITE")],
            *[Acl("TOPIC", "LITERAL", name, "DESCRIBE_CONFIGS")
              for name in (*contract_topic_names(settings), internal[0])],
            *[Acl("GROUP", "LITERAL", group, "READ") for group in groups],
            *[Acl("TRANSACTIONAL_ID", "LITERAL", producer, "WRITE") for producer in producers]]


def contract_topic_names(settings: Settings) -> list[str]:
    return [settings.topic(name) for name in (*INPUTS, *OUTPUTS)]


def _topics(settings: Settings, names: tuple[str, ...], *operations: str) -> list[Acl]:
    return [Acl("TOPIC", "LITERAL", settings.topic(n), op) for n in names for op in operations]


async def grant(admin: Settings, principal: str, acls: list[Acl]) -> None:
    """Create `acls` for `principal` (`User:name`), logged in with `admin`'s settings (a super
    user). aiokafka's admin client has no ACL call, so this sends CreateAcls itself."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.protocol.admin import CreateAclsRequest

    client = kafka_client(AIOKafkaAdminClient, admin)
    await client.start()
    try:
        for acl in acls:
            request = CreateAclsRequest(RESOURCE_TYPES[acl.resource], acl.name, PATTERN_TYPES[acl.pattern],
                                        principal, "*", OPERATIONS[acl.operation], ALLOW)
            response: Any = await client._send_request(request)  # private: aiokafka has no ACL call
            for code, message in response.creation_responses:
                if code:
                    raise BrokerError(f"creating ACL {acl} for {principal} failed: {message or code}")
    finally:
        await client.close()
