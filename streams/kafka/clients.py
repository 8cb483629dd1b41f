"""Every Kafka client votewire makes comes from `kafka_client`, so none can skip the connection.

Where the broker is and how to log in (TLS, SASL: streams.kafka.security) are merged into every
consumer, producer and admin client here, as Quix Streams merges its `ConnectionConfig` into
every client it builds; callers give only what is theirs (group, offsets, batching). The faust
app gets the same security as faust's own credentials (streams.worker.app.broker_credentials).
tests/unit/test_kafka_clients.py fails if a module under streams/ builds a client another way.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any, TypeVar

from streams.errors import BrokerError
from streams.kafka.security import kafka_connection
from streams.settings import Settings, split_addr

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


async def require_broker(settings: Settings, timeout_s: float = 5.0) -> None:
    """A `BrokerError` in one line when no bootstrap address takes a connection: found with a
    plain socket, before any aiokafka client would log its own retries of the same failure."""
    reasons = []
    for addr in settings.bootstrap.split(","):
        host, port = split_addr(addr, "VOTEWIRE_BOOTSTRAP")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
        except (OSError, TimeoutError) as e:
            reasons.append(os.strerror(e.errno) if isinstance(e, OSError) and e.errno else str(e) or "timed out")
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return
    raise BrokerError(f"no Kafka broker answers at {settings.bootstrap} ({'; '.join(sorted(set(reasons)))}): "
                      "is it running? (`votewire kafka start` starts a local one)")
