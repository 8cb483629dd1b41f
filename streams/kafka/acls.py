"""The Kafka ACLs each votewire process needs, and nothing more.

Three principals, three roles (README, Security): a `producer` writes the input topics, a
`worker` reads them and writes the outputs, its internal topics and its consumer groups, a
`gateway` reads the output topics. The integration tests grant exactly these on a broker with
`allow.everyone.if.no.acl.found=false` and prove each role can do its job and nothing else.

Notes for a reader who knows Kafka's ACLs:
- No DESCRIBE: Kafka implies it from READ and WRITE (clients fetch a topic's metadata first).
- No IDEMPOTENT_WRITE on the cluster: since Kafka 3.0 (KIP-679) WRITE on a topic allows an
  idempotent producer to write it (replay's).
- The worker's snapshot producers are transactional, one id per home partition
  (`<app_id>-snapshots-<partition>`, streams.worker.publisher): WRITE on that prefix.
- The worker's internal topics (the re-key topic `<app_id>-precinct-results-rekeyed`, faust's
  own) and groups (`<app_id>`, `<app_id>-race-book`) all start with its app id, which starts
  with the topic prefix: one PREFIXED pattern each covers them.
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

INPUTS = (contract.RACE_DEFINITIONS, contract.EXPECTED_VOTES, contract.PRECINCT_RESULTS)
OUTPUTS = (contract.STATE_RESULTS, contract.COUNTY_RESULTS, contract.RESULTS_ALERTS, contract.DEAD_LETTERS)
# What the gateway serves: snapshots and alerts, never dead letters (they hold raw input).
SERVED = (contract.STATE_RESULTS, contract.COUNTY_RESULTS, contract.RESULTS_ALERTS)
ROLES = ("producer", "worker", "gateway")


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
    """The ACLs `role` needs with these settings (topic prefix, app id)."""
    def topics(names: tuple[str, ...], *operations: str) -> list[Acl]:
        return [Acl("TOPIC", "LITERAL", settings.topic(n), op) for n in names for op in operations]

    if role == "producer":
        return topics(INPUTS, "WRITE")
    if role == "gateway":
        return topics(SERVED, "READ")
    if role == "worker":
        own = settings.topic(settings.app_id)
        return [*topics(INPUTS, "READ"), *topics(OUTPUTS, "WRITE"),
                *[Acl("TOPIC", "PREFIXED", own, op) for op in ("CREATE", "READ", "WRITE")],
                Acl("GROUP", "PREFIXED", own, "READ"), Acl("TRANSACTIONAL_ID", "PREFIXED", own, "WRITE")]
    raise ValueError(f"unknown role {role!r}: one of {', '.join(ROLES)}")


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
