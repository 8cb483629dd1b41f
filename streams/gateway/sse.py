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

Nothing is queued per client: a subscriber is a cursor into the ring, and `append` wakes all
followers through one shared future, so an event costs O(1) however many clients follow. A
subscriber that falls far behind (a slow network, a burst while the gateway catches up with
Kafka) gets only the newest snapshot per key of what it missed: a snapshot supersedes its key's
older ones, so skipping those loses nothing a client shows. A client keeping up gets every
event. Alerts are never coalesced. Events are
encoded once and shared by every subscriber; each write takes at most `WRITE_CHUNK_BYTES`.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import orjson

DEFAULT_BUFFER = 10_000
# A subscriber whose cursor falls out of the ring (DEFAULT_BUFFER events behind) is cut off; its
# EventSource reconnects with Last-Event-ID, gets the current state and follows on.
MAX_SCAN = 2_000  # events one take looks at: a client far behind catches up a chunk at a time
# A client this many events behind gets the newest snapshot per key of what it missed; closer
# than that, every event (a client keeping up sees every version of every snapshot).
COALESCE_BEHIND = 1_000
# Per write: a slow client's unsent bytes sit in its transport buffer (a copy of the chunk), so
# this, plus the transport's 64 KiB high-water mark, is what one client can cost at most.
WRITE_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Event:
    kind: str  # SSE event name: state, county, alert, sync
    data: str  # JSON text
    n: int | None = None  # position in the log; None for resync burst events
    key: str | None = None  # the snapshot's key, for coalescing; None: never coalesced (alerts)

    def encode(self, run: str) -> bytes:
        """The event on the wire; encoded once per run and shared by every subscriber."""
        cached: tuple[str, bytes] | None = self.__dict__.get("_wire")
        if cached is not None and cached[0] == run:
            return cached[1]
        id_line = f"id: {run}:{self.n}\n" if self.n is not None else ""
        wire = f"{id_line}event: {self.kind}\ndata: {self.data}\n\n".encode()
        object.__setattr__(self, "_wire", (run, wire))  # a cache, not a field: frozen stays true
        return wire


def event(kind: str, message: object, n: int | None = None) -> Event:
    return Event(kind, orjson.dumps(message).decode(), n, snapshot_key(kind, message))


def snapshot_key(kind: str, message: object) -> str | None:
    if kind not in ("state", "county") or not isinstance(message, dict):
        return None
    parts = (kind, message.get("election_id"), message.get("race_id"), message.get("state"),
             message.get("county_fips"), message.get("mode"))
    return "/".join(str(p) for p in parts)


@dataclass(eq=False)  # compared and hashed by identity: one per connection
class Subscriber:
    """One stream client's place in the log: nothing is queued per client, so a thousand of them
    cost a thousand cursors, and an event costs the same whether one client follows or all do."""

    log: EventLog
    kinds: frozenset[str]
    cursor: int  # the `n` of the last event handed out
    closed: bool = False
    cut_off: bool = False  # closed for falling out of the ring buffer, not by a shutdown

    async def wait(self, timeout_s: float) -> bool:
        """Until there is something after the cursor (or the subscriber is closed); False on timeout."""
        return await self.log.wait_after(self.cursor, timeout_s) or self.closed

    def take(self, max_bytes: int = WRITE_CHUNK_BYTES) -> list[Event]:
        """The next events of the asked kinds, the newest snapshot per key, about `max_bytes` at most."""
        return self.log.take_for(self, max_bytes)

    def close(self) -> None:
        self.closed = True
        self.log.wake_all()


class EventLog:
    """The numbered events of this run, the newest `size` of them kept in a ring."""

    def __init__(self, size: int = DEFAULT_BUFFER, run: str | None = None) -> None:
        self.run = run or secrets.token_hex(4)
        self.head = 0
        self.size = size
        self.ring: list[Event | None] = [None] * size  # event n at n % size: O(1) from any cursor
        self.subscribers: set[Subscriber] = set()
        self._changed: asyncio.Future[None] | None = None  # one future all waiting followers share

    @property
    def oldest(self) -> int:
        """The lowest `n` the ring still holds (head + 1 when it is empty)."""
        return max(1, self.head - self.size + 1)

    def _at(self, n: int) -> Event:
        ev = self.ring[n % self.size]
        if ev is None or ev.n != n:
            raise LookupError(f"event {n} is not in the ring ({self.oldest}..{self.head})")
        return ev

    def append(self, kind: str, message: object) -> Event:
        self.head += 1
        ev = event(kind, message, self.head)
        self.ring[self.head % self.size] = ev
        self.wake_all()
        return ev

    def wake_all(self) -> None:
        """Wake every waiting follower: one future resolved, however many follow."""
        if self._changed is not None and not self._changed.done():
            self._changed.set_result(None)
        self._changed = None

    async def wait_after(self, n: int, timeout_s: float) -> bool:
        if self.head > n:
            return True
        if self._changed is None:
            self._changed = asyncio.get_running_loop().create_future()
        try:
            # shield: one follower's timeout must not cancel the future the others wait on
            await asyncio.wait_for(asyncio.shield(self._changed), timeout_s)
        except TimeoutError:
            return False
        return True

    def take_for(self, subscriber: Subscriber, max_bytes: int, max_scan: int = MAX_SCAN) -> list[Event]:
        """Advance `subscriber` over at most `max_scan` events; those of its kinds, coalesced."""
        if subscriber.closed:
            return []
        if subscriber.cursor < self.oldest - 1:  # what it has not seen is gone from the ring
            subscriber.cut_off = True
            subscriber.close()
            return []
        latest: dict[object, Event] = {}  # insertion order: the order of each slot's newest event
        coalesce = self.head - subscriber.cursor > COALESCE_BEHIND
        size, n = 0, subscriber.cursor
        end = min(self.head, subscriber.cursor + max_scan)
        while n < end and size < max_bytes:
            n += 1
            ev = self._at(n)
            if ev.kind not in subscriber.kinds:
                continue
            slot: object = ev.key if coalesce and ev.key is not None else n
            superseded = latest.pop(slot, None)
            size += len(ev.data) - (len(superseded.data) if superseded is not None else 0)
            latest[slot] = ev
        subscriber.cursor = n
        return list(latest.values())

    def resumable_after(self, last_event_id: str | None) -> int | None:
        """The `n` to resume after, or None when the ring no longer covers that id."""
        run, _, n_text = (last_event_id or "").partition(":")
        if run != self.run or not n_text.isdigit():
            return None
        n = int(n_text)
        return n if n <= self.head and self.oldest <= n + 1 else None

    def subscribe(self, last_event_id: str | None, kinds: Iterable[str],
                  current: Callable[[], list[Event]]) -> tuple[list[Event], Subscriber]:
        """Backlog for a (re)connecting client, and its subscription to what comes next."""
        subscriber = Subscriber(self, frozenset(kinds), self.head)
        after = self.resumable_after(last_event_id)
        if after is not None:
            backlog = [self._at(n) for n in range(after + 1, self.head + 1)]
        else:
            backlog = [*current(), event("sync", {"head": self.head, "resync": True}, self.head)]
        self.subscribers.add(subscriber)
        return [ev for ev in backlog if ev.kind in subscriber.kinds or ev.kind == "sync"], subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def close_all(self) -> None:
        for subscriber in self.subscribers:
            subscriber.closed = True
        self.wake_all()
