"""The worker's outbox: everything a record causes to be written (dead letters, alerts, a stray
forwarded to the re-keyed topic), sent through faust's producer with `send_soon` (no await per
record, on the hot path), and counted in the metrics.

At-least-once holds only if a record's input offset is committed after everything it caused is
written. Faust acks a record once the agent has taken the next one, whatever became of its
sends: a send that failed (a topic's leader away past the request timeout, min ISR not met, a
record too large for the topic) was logged and the offset committed past it, a report, an alert
or a dead letter lost for good. So the agent reads with `noack` and each record gets a
`Receipt`: its sends are counted on it, and it is delivered when the last of them is. A send
that fails is sent again, with backoff, until it is delivered; the outage is logged once when it
begins and once when it is over, not per retry (as streams.kafka.connection_log does for the
broker). `InputAcks` acks a partition's records in offset order, each once it and every record
before it are delivered: faust commits up to the first unacked record, but it lets a gap of one
offset right at the committed offset pass (a transaction marker's, in its transactional mode),
so a record acked behind an unacked one could be committed past it.

A rebalance waits for every unacked record (faust's `wait_empty`), which a long outage would
stretch past the rebalance timeout. A record whose send is failing when the group moves is let
go instead, with every record behind it in its partition (`InputAcks.let_go`): not acked, so
their offsets stay uncommitted, and the partition's next owner takes them again and sends again
(alert ids are deterministic; a dead letter may come twice).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, MutableSet
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson

from streams.contract import Alert, RefusedElement
from streams.contract.deadletter import dead_letter_headers, element_dead_letter_headers
from streams.counting import alert_value
from streams.errors import InvalidRecord
from streams.metrics import WorkerMetrics
from streams.worker.app import WorkerTopics

log = logging.getLogger(__name__)

RETRY_FIRST_S = 0.5  # a failed send is sent again after this, doubling up to RETRY_MAX_S
RETRY_MAX_S = 5.0


def _nothing() -> None:
    pass


class Receipt:
    """The sends one input record caused (or the race book's reader between two commits).
    `delivered` once it is `closed` (nothing more will be sent for it) and all of them are
    delivered; `on_delivered` runs then, once. `event`: the faust event it stands for, if any."""

    __slots__ = ("closed", "delivered", "event", "let_go", "on_delivered", "pending")

    def __init__(self, on_delivered: Callable[[], Any] = _nothing, event: Any = None) -> None:
        self.on_delivered = on_delivered
        self.event = event
        self.pending = 0
        self.closed = False
        self.delivered = False
        self.let_go = False

    def settle(self) -> None:
        if self.closed and not self.pending and not self.let_go and not self.delivered:
            self.delivered = True
            self.on_delivered()


class InputAcks:
    """Acks each input partition's records in offset order (see the module's doc).
    `unacked()`: the consumer's set of records taken and not acked, which a rebalance waits for."""

    def __init__(self, unacked: Callable[[], MutableSet[Any]]) -> None:
        self.unacked = unacked
        self.queues: dict[Any, deque[Receipt]] = {}  # topic partition -> its records not acked yet

    def receipt(self, event: Any) -> Receipt:
        """A receipt for the record `event` is taking, behind the ones taken before it."""
        queue = self.queues.get(event.message.tp)
        if queue is None:
            queue = self.queues[event.message.tp] = deque()
        receipt = Receipt(partial(_ack_delivered, queue), event)
        queue.append(receipt)
        return receipt

    def let_go(self, receipt: Receipt) -> int:
        """Give up `receipt`'s record and every one behind it in its partition, unacked (the
        rebalance no longer waits for them; they are taken again after it). Their partition."""
        message = receipt.event.message
        queue = self.queues.get(message.tp, deque())
        while queue and queue[-1] is not receipt:
            self._let_go(queue.pop())
        if queue:
            queue.pop()
        self._let_go(receipt)
        return int(message.partition)

    def _let_go(self, receipt: Receipt) -> None:
        receipt.let_go = True
        self.unacked().discard(receipt.event.message)

    def forget(self) -> None:
        """A new assignment: records let go stay unacked for good (faust reads them again)."""
        self.queues.clear()


def _ack_delivered(queue: deque[Receipt]) -> None:
    while queue and queue[0].delivered:
        queue.popleft().event.ack()


@dataclass(frozen=True, slots=True)
class Send:
    topic: Any  # a faust topic
    key: bytes | None
    value: bytes | None
    headers: Any = None
    partition: int | None = None
    timestamp: float | None = None  # faust's seconds; None: the moment it is sent


class Outbox:
    """Sends on behalf of `receipt`, the record being taken (set by whoever takes it).
    `rebalancing()` says whether the group is moving: a record whose send is failing is then
    handed to `let_go`."""

    def __init__(self, topics: WorkerTopics, metrics: WorkerMetrics, rebalancing: Callable[[], bool],
                 let_go: Callable[[Receipt], Any] = lambda _: None) -> None:
        self.topics = topics
        self.metrics = metrics
        self.rebalancing = rebalancing
        self.let_go = let_go
        self.receipt = Receipt()
        # Looked up once: `.labels()` on every record is measurable.
        self.dead_letter_outcome = metrics.reports.labels(outcome="dead_letter")
        self.alert_counters: dict[str, Any] = {}  # alert type -> its labelled counter, looked up once
        self.retries = metrics.task_failures.labels(task="send")
        self.failing: set[int] = set()  # id() of the sends failed and not yet delivered
        self.outage: tuple[float, int] | None = None  # (since, failed attempts) while sends are failing

    # --- what a record causes -----------------------------------------------------------------

    def dead_letter(self, message: Any, error: InvalidRecord) -> None:
        headers = dead_letter_headers(error, message.topic, message.partition, message.offset)
        self.send(Send(self.topics.dead_letters, message.key, message.value, headers))
        self._count_dead_letter(message.topic, error)

    def dead_letter_element(self, message: Any, refused: RefusedElement) -> None:
        headers = element_dead_letter_headers(refused.error, message.topic, message.partition, message.offset,
                                              refused.index)
        self.send(Send(self.topics.dead_letters, message.key, refused.value, headers))
        self._count_dead_letter(message.topic, refused.error)

    def _count_dead_letter(self, topic: str, error: InvalidRecord) -> None:
        self.dead_letter_outcome.inc()
        self.metrics.dead_letters.labels(topic=topic, error=error.kind).inc()

    def send_alerts(self, alerts: list[Alert], receipt: Receipt | None = None) -> None:
        for alert in alerts:
            self.send(Send(self.topics.alerts, alert.key.encode(), orjson.dumps(alert_value(alert))), receipt)
            counter = self.alert_counters.get(alert.type)
            if counter is None:
                counter = self.alert_counters[alert.type] = self.metrics.alerts.labels(type=alert.type)
            counter.inc()

    def forward(self, key: bytes, value: bytes, partition: int, timestamp: float | None) -> None:
        """A stray to the re-keyed topic, onto its home partition (design rule 3), with the time
        Kafka gave it (`timestamp`, faust's seconds; design rule 7), not the moment it went round."""
        self.send(Send(self.topics.rekeyed, key, value, partition=partition, timestamp=timestamp))

    # --- receipts -----------------------------------------------------------------------------

    def send(self, send: Send, receipt: Receipt | None = None) -> None:
        """Send on behalf of `receipt`, by default the record being taken."""
        receipt = receipt or self.receipt
        receipt.pending += 1
        self._submit(receipt, send, 0)

    def close(self, receipt: Receipt) -> None:
        """The record is taken: nothing more will be sent for it."""
        receipt.closed = True
        receipt.settle()

    def _submit(self, receipt: Receipt, send: Send, attempt: int) -> None:
        future = send.topic.send_soon(key=send.key, value=send.value, headers=send.headers, partition=send.partition,
                                      timestamp=send.timestamp)
        future.add_done_callback(partial(self._sent, receipt, send, attempt))

    def _sent(self, receipt: Receipt, send: Send, attempt: int, future: asyncio.Future[Any]) -> None:
        error = None if not future.cancelled() and future.exception() is None else _error(future)
        if error is not None:
            self._failed(receipt, send, attempt, error)
            return
        if attempt:
            self._recovered(send)
        receipt.pending -= 1
        receipt.settle()

    def _failed(self, receipt: Receipt, send: Send, attempt: int, error: BaseException) -> None:
        self.retries.inc()
        self.failing.add(id(send))
        since, attempts = self.outage or (time.monotonic(), 0)
        if not attempts:
            log.warning("sending to %s failed (%r): sending it again until it is delivered; the input is not "
                        "committed past the record that caused it", send.topic.get_topic_name(), error)
        self.outage = (since, attempts + 1)
        delay = min(RETRY_FIRST_S * 2 ** attempt, RETRY_MAX_S)
        asyncio.get_running_loop().call_later(delay, self._retry, receipt, send, attempt + 1)

    def _retry(self, receipt: Receipt, send: Send, attempt: int) -> None:
        if receipt.let_go:
            self.failing.discard(id(send))
        elif self.rebalancing() and receipt.event is not None:
            # The group is moving: the partition's next owner takes the record again.
            self.failing.discard(id(send))
            self.let_go(receipt)
        else:
            self._submit(receipt, send, attempt)
            return
        self._maybe_over()

    def _recovered(self, send: Send) -> None:
        self.failing.discard(id(send))
        self._maybe_over()

    def _maybe_over(self) -> None:
        if self.failing or self.outage is None:
            return
        since, attempts = self.outage
        self.outage = None
        log.warning("sends delivered again: %d failed attempts over %.1f s", attempts, time.monotonic() - since)


def _error(future: asyncio.Future[Any]) -> BaseException:
    return asyncio.CancelledError() if future.cancelled() else future.exception()  # type: ignore[return-value]
