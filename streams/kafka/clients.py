"""Every Kafka client votewire makes comes from `kafka_client`, so none can skip the connection.

Where the broker is and how to log in (TLS, SASL: streams.kafka.security) are merged into every
consumer, producer and admin client here, as Quix Streams merges its `ConnectionConfig` into
every client it builds; callers give only what is theirs (group, offsets, batching). The faust
app gets the same security as faust's own credentials (streams.worker.app.broker_credentials).
tests/unit/test_kafka_clients.py fails if a module under streams/ builds a client another way.
"""

from __future__ import annotations

from typing import Any, TypeVar

from streams.kafka.security import kafka_connection
from streams.settings import Settings

Client = TypeVar("Client")


def kafka_client(kind: type[Client], settings: Settings, *topics: str, **options: Any) -> Client:
    """A `kind` (AIOKafkaConsumer, AIOKafkaProducer, AIOKafkaAdminClient, AIOKafkaClient) for
    `settings`' cluster, subscribed to `topics` (a consumer's), with the caller's `options`.
    An option that would override the connection is a bug, refused here."""
    connection = kafka_connection(settings)
    clash = connection.keys() & options.keys()
    if clash:
        raise TypeError(f"kafka_client: {', '.join(sorted(clash))} come from the settings, not the caller")
    return kind(*topics, **connection, **options)
