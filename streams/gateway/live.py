"""Live results: the store, the event log and the gateway's metrics, fed one message at a time.

This is the single place where a message read from Kafka becomes public: `ingest` holds it in
the store (which decides whether it is newer and visible) and, only if it was accepted,
appends it to the event log that `/v1/stream` clients follow.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry

from streams.gateway.sse import Event, EventLog, event
from streams.gateway.store import Kind, Message, ResultStore
from streams.metrics import SNAPSHOT_KINDS, GatewayMetrics, gateway_metrics

log = logging.getLogger(__name__)

# Alerts in a resync burst: enough to fill the board's ticker, not the whole history.
RESYNC_ALERTS = 20


class LiveResults:
    def __init__(self, show_test: bool = False, buffer_size: int = 10_000,
                 registry: CollectorRegistry | None = None) -> None:
        self.store = ResultStore(show_test=show_test)
        self.events = EventLog(buffer_size)
        self.registry = registry or CollectorRegistry()
        self.metrics: GatewayMetrics = gateway_metrics(self.registry)
        self.ready = False
        self._burst: tuple[int, list[Event]] = (-1, [])
        for kind in SNAPSHOT_KINDS:
            self.metrics.snapshots_held.labels(kind=kind).set(0)

    def ingest(self, kind: Kind, message: object) -> bool:
        """Take one decoded message from `kind`'s topic; True when it changed what is served."""
        if message is None:  # a tombstone or an undecodable record (logged by the feed)
            return False
        if not isinstance(message, dict):
            log.warning("ignoring a %s message that is not a JSON object", kind)
            return False
        accepted: Message | None = self._apply(kind, message)
        if accepted is None:
            return False
        self.events.append(kind, accepted)
        self.metrics.events.labels(kind=kind).inc()
        if kind != "alert":
            self.metrics.snapshots_held.labels(kind=kind).set(self.store.count(kind))
        return True

    def _apply(self, kind: Kind, message: Message) -> Message | None:
        if kind == "state":
            return message if self.store.apply_state(message) else None
        if kind == "county":
            return message if self.store.apply_county(message) else None
        return self.store.apply_alert(message)

    def mark_ready(self, ready: bool = True) -> None:
        self.ready = ready
        self.metrics.ready.set(1 if ready else 0)

    def current_events(self) -> list[Event]:
        """Every held snapshot and the latest alerts, as one resync burst (no event ids).

        Built once per change of what is held and shared, encodings included, by every client
        that resyncs meanwhile: a thousand clients reconnecting at once cost one burst, not a
        thousand."""
        if self._burst[0] != self.events.head:
            burst = [event("state", s) for s in self.store.states.values()]
            burst += [event("county", c) for held in self.store.counties.values() for c in held.values()]
            burst += [event("alert", a) for a in list(self.store.alerts.values())[-RESYNC_ALERTS:]]
            self._burst = (self.events.head, burst)
        return self._burst[1]
