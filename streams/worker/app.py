"""Builds the Faust app and its topics. Nothing else happens here.

Why these settings:
- at-least-once, never `exactly_once` (faust's transactional mode has open bugs); `seq`
  idempotence makes a re-processed record harmless (design rule 2).
- no tables: the tallies are rebuilt from the input log itself (streams.worker.rebuild).
- values and keys are raw bytes: we decode with orjson ourselves, strictly (a bad record must
  become a dead letter, not a crashed agent), and keep the original bytes for dead letters.
- the web server is off: workers expose only /metrics and /healthz on a private port
  (streams.metrics.serve_metrics), never faust's table and router pages (design rule 8).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust

from streams import contract
from streams.kafka.security import kafka_security
from streams.kafka.topics import MAX_MESSAGE_BYTES
from streams.settings import Settings


@dataclass(frozen=True)
class WorkerTopics:
    precinct_results: Any  # faust.TopicT: the input, plus the internal re-keyed topic
    rekeyed: Any
    state_results: Any
    county_results: Any
    alerts: Any
    dead_letters: Any


def build_app(settings: Settings) -> faust.App:
    return faust.App(
        app_id(settings),
        broker=f"kafka://{settings.bootstrap}",
        # Every client faust makes (consumer, producer, the topic-creating admin) logs in with these.
        broker_credentials=broker_credentials(settings),
        datadir=str(Path(settings.data_dir) / "worker"),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
        processing_guarantee="at_least_once",
        broker_commit_interval=1.0,
        broker_session_timeout=settings.session_timeout_s,
        broker_rebalance_timeout=settings.rebalance_timeout_s,
        producer_request_timeout=settings.send_timeout_s,
        broker_heartbeat_interval=settings.session_timeout_s / 3,
        producer_acks=-1,
        producer_linger=0.005,
        # Keep the stream fed in large fetches: the hot path is per record, the I/O isn't.
        broker_max_poll_records=2000,
        # Oversized reports must arrive to be dead-lettered, and their dead letters sent (topics.py).
        consumer_max_fetch_size=2 * MAX_MESSAGE_BYTES,
        producer_max_request_size=MAX_MESSAGE_BYTES + 64 * 1024,
        stream_buffer_maxsize=8192,
    )


def broker_credentials(settings: Settings) -> faust.types.auth.CredentialsT | None:
    """The security of `streams.kafka.security.kafka_security`, in faust's terms."""
    security = kafka_security(settings)
    if "sasl_mechanism" in security:
        return faust.SASLCredentials(
            username=security["sasl_plain_username"], password=security["sasl_plain_password"],
            ssl_context=security.get("ssl_context"), mechanism=security["sasl_mechanism"])
    if "ssl_context" in security:
        return faust.SSLCredentials(security["ssl_context"])
    return None


def app_id(settings: Settings) -> str:
    """Faust names its internal topics (table changelogs) after the app id: prefix it too."""
    return settings.topic(settings.app_id)


def rekeyed_topic_name(settings: Settings) -> str:
    """The internal topic for precinct reports that arrived under another key or partition."""
    return f"{app_id(settings)}-precinct-results-rekeyed"


def build_topics(app: faust.App, settings: Settings) -> WorkerTopics:
    def raw_topic(*names: str, internal: bool = False) -> Any:
        return app.topic(*names, key_serializer="raw", value_serializer="raw", internal=internal,
                         partitions=settings.partitions if internal else None)

    rekeyed_name = rekeyed_topic_name(settings)
    return WorkerTopics(
        precinct_results=raw_topic(settings.topic(contract.PRECINCT_RESULTS), rekeyed_name),
        rekeyed=raw_topic(rekeyed_name, internal=True),
        state_results=raw_topic(settings.topic(contract.STATE_RESULTS)),
        county_results=raw_topic(settings.topic(contract.COUNTY_RESULTS)),
        alerts=raw_topic(settings.topic(contract.RESULTS_ALERTS)),
        dead_letters=raw_topic(settings.topic(contract.DEAD_LETTERS)),
    )

