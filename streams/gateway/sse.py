"""Server-Sent Events: a numbered log of recent events, and subscribers that resume from it.

Event ids are `{run}:{n}`: `n` rises by one per event within a gateway run, and `run` changes
at every start, so an id from an earlier run is never mistaken for one of this run. A client
that reconnects with `Last-Event-ID` gets every event after it from the ring buffer; when the
id is unknown (older than the buffer, another run, or none at all) it gets the current latest
snapshot of every key instead, then a `sync` event carrying the head id. The burst events
carry no id of their own, so a client cut off mid-burst reconnects with its old id and simply
gets the burst again: nothing is lost either way.

`subscribe` takes the backlog and registers the subscriber in one synchronous step (no await
in between), so no event can fall between the backlog and the live feed.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson

DEFAULT_BUFFER = 10_000
# A subscriber this far behind (events, or their bytes) is cut off rather than buffered without
# bound; its EventSource reconnects with Last-Event-ID and resumes from the ring buffer. The
# bytes bound is what keeps a thousand clients that stopped reading from costing gigabytes:
# a national night's snapshots run to a few KB each.
MAX_PENDING = 5_000
MAX_PENDING_BYTES = 1 << 20


@dataclass(frozen=True)
class Event:
    kind: str  # SSE event name: state, county, alert, sync
    data: str  # JSON text
    n: int | None = None  # position in the log; None for resync burst events

    def encode(self, run: str) -> bytes:
        id_line = f"id: {run}:{self.n}\n" if self.n is not None else ""
        return f"{id_line}event: {self.kind}\ndata: {self.data}\n\n".encode()


def event(kind: str, message: object, n: int | None = None) -> Event:
    return Event(kind, orjson.dumps(message).decode(), n)


@dataclass(eq=False)  # compared and hashed by identity: one per connection
class Subscriber:
    kinds: frozenset[str]
    pending: deque[Event] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False
    pending_bytes: int = 0
    cut_off: bool = False  # closed for falling too far behind, not by a shutdown

    def offer(self, ev: Event) -> None:
        if self.closed or ev.kind not in self.kinds:
            return
        if len(self.pending) >= MAX_PENDING or self.pending_bytes + len(ev.data) > MAX_PENDING_BYTES:
            self.cut_off = True
            self.close()
            return
        self.pending.append(ev)
        self.pending_bytes += len(ev.data)
        self.wake.set()

    def close(self) -> None:
        self.closed = True
        self.pending.clear()  # nothing more will be sent: free it now, not when the handler ends
        self.pending_bytes = 0
        self.wake.set()

    def take(self) -> list[Event]:
        taken = list(self.pending)
        self.pending.clear()
        self.pending_bytes = 0
        self.wake.clear()
        return taken


class EventLog:
    def __init__(self, size: int = DEFAULT_BUFFER, run: str | None = None) -> None:
        self.run = run or secrets.token_hex(4)
        self.head = 0
        self.buffer: deque[Event] = deque(maxlen=size)
        self.subscribers: set[Subscriber] = set()

    def append(self, kind: str, message: object) -> Event:
        self.head += 1
        ev = event(kind, message, self.head)
        self.buffer.append(ev)
        for subscriber in self.subscribers:
            subscriber.offer(ev)
        return ev

    def resumable_after(self, last_event_id: str | None) -> int | None:
        """The `n` to resume after, or None when the buffer no longer covers that id."""
        run, _, n_text = (last_event_id or "").partition(":")
        if run != self.run or not n_text.isdigit():
            return None
        n = int(n_text)
        oldest = self.buffer[0].n if self.buffer else self.head + 1
        return n if n <= self.head and oldest is not None and oldest <= n + 1 else None

    def subscribe(self, last_event_id: str | None, kinds: Iterable[str],
                  current: Callable[[], list[Event]]) -> tuple[list[Event], Subscriber]:
        """Backlog for a (re)connecting client, and its subscription to what comes next."""
        subscriber = Subscriber(frozenset(kinds))
        after = self.resumable_after(last_event_id)
        if after is not None:
            backlog = [ev for ev in self.buffer if ev.n is not None and ev.n > after]
        else:
            backlog = [*current(), event("sync", {"head": self.head, "resync": True}, self.head)]
        self.subscribers.add(subscriber)
        return [ev for ev in backlog if ev.kind in subscriber.kinds or ev.kind == "sync"], subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def close_all(self) -> None:
        for subscriber in self.subscribers:
            subscriber.close()
