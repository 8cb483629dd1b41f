"""The worker's outbox: dead letters and alerts, sent through faust's producer with `send_soon`
(no await per record, on the hot path), and counted in the metrics. `flush` waits for
everything sent so far: the race book's reader commits its offsets only after it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from streams.contract import Alert, RefusedElement
from streams.contract.deadletter import dead_letter_headers, element_dead_letter_headers
from streams.counting import alert_value
from streams.errors import InvalidRecord
from streams.metrics import WorkerMetrics
from streams.worker.app import WorkerTopics


class Outbox:
    def __init__(self, topics: WorkerTopics, metrics: WorkerMetrics, flush: Callable[[], Awaitable[None]]) -> None:
        self.topics = topics
        self.metrics = metrics
        self.flush = flush
        # Looked up once: `.labels()` on every record is measurable.
        self.dead_letter_outcome = metrics.reports.labels(outcome="dead_letter")

    def dead_letter(self, message: Any, error: InvalidRecord) -> None:
        headers = dead_letter_headers(error, message.topic, message.partition, message.offset)
        self.topics.dead_letters.send_soon(key=message.key, value=message.value, headers=headers)
        self._count_dead_letter(message.topic, error)

    def dead_letter_element(self, message: Any, refused: RefusedElement) -> None:
        headers = element_dead_letter_headers(refused.error, message.topic, message.partition, message.offset,
                                              refused.index)
        self.topics.dead_letters.send_soon(key=message.key, value=refused.value, headers=headers)
        self._count_dead_letter(message.topic, refused.error)

    def _count_dead_letter(self, topic: str, error: InvalidRecord) -> None:
        self.dead_letter_outcome.inc()
        self.metrics.dead_letters.labels(topic=topic, error=error.kind).inc()

    def send_alerts(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            self.topics.alerts.send_soon(key=alert.key.encode(), value=orjson.dumps(alert_value(alert)))
            self.metrics.alerts.labels(type=alert.type).inc()
