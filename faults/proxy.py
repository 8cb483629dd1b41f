"""A TCP proxy between every Kafka client and the broker, with faults on demand.

There is no toxiproxy here, so this is the harness's own: an asyncio proxy on its own
thread, controlled from the harness's (synchronous) code. The broker advertises the proxy's
port (`advertised.listeners`, streams.localkafka.kafka_local.LocalBroker.advertised_port), so metadata
sends every client - worker, replay, gateway, the oracle's readers - back through it.

Modes (`set_mode`):
- `pass`: bytes go through untouched.
- `delay`: every chunk is held `delay_ms` before it is forwarded (both directions).
- `blackhole`: connections are accepted and kept, but no byte goes through either way (a
  partition without a reset: clients wait for their request timeouts). Leaving it closes
  every connection that lived through it, as toxiproxy's timeout toxic does: their
  protocol streams lost bytes and cannot be resumed.
- `reset`: every open connection is reset (RST) at once, and new ones as they arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

MODES = ("pass", "delay", "blackhole", "reset")
CHUNK = 64 * 1024


@dataclass(eq=False)
class _Link:
    """One client connection and its upstream connection."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    tainted: bool = False  # lived through a blackhole: closed when it ends

    def close(self, reset: bool = False) -> None:
        for writer in (self.client, self.upstream):
            if writer is None:
                continue
            if reset:
                _set_linger_zero(writer)
            writer.close()


def _set_linger_zero(writer: asyncio.StreamWriter) -> None:
    """Closing with SO_LINGER 0 sends a RST instead of a FIN: an abrupt reset."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@dataclass
class FaultProxy:
    """Listens on `listen_port` (0: a free one) and forwards to `upstream_port`, on `host`."""

    upstream_port: int
    host: str = "127.0.0.1"
    listen_port: int = 0
    mode: str = "pass"
    delay_ms: float = 0.0
    connections: int = 0  # accepted so far
    resets: int = 0  # connections reset by a `reset`
    _links: set[_Link] = field(default_factory=set)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: asyncio.Server | None = None

    # --- the harness's side (any thread) ---------------------------------------------------------

    def start(self) -> FaultProxy:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="fault-proxy", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fault proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def set_mode(self, mode: str, delay_ms: float = 0.0) -> None:
        if mode not in MODES:
            raise ValueError(f"proxy mode {mode!r} is not one of {', '.join(MODES)}")
        assert self._loop is not None, "start the proxy first"
        done = asyncio.run_coroutine_threadsafe(self._switch(mode, delay_ms), self._loop)
        done.result(10)

    @contextlib.contextmanager
    def fault(self, mode: str, delay_ms: float = 0.0) -> Iterator[None]:
        """`mode` for the duration of the block, then `pass` again."""
        self.set_mode(mode, delay_ms)
        try:
            yield
        finally:
            self.set_mode("pass")

    @property
    def address(self) -> str:
        return f"{self.host}:{self.listen_port}"

    # --- the proxy's own thread ------------------------------------------------------------------

    def _serve(self, ready: threading.Event) -> None:
        self._loop = loop = asyncio.new_event_loop()
        self._server = loop.run_until_complete(asyncio.start_server(self._accept, self.host, self.listen_port))
        self.listen_port = int(self._server.sockets[0].getsockname()[1])
        ready.set()
        try:
            loop.run_forever()
        finally:
            self._server.close()
            for link in list(self._links):
                link.close()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    async def _switch(self, mode: str, delay_ms: float) -> None:
        leaving_blackhole = self.mode == "blackhole" and mode != "blackhole"
        self.mode, self.delay_ms = mode, delay_ms
        for link in list(self._links):
            if mode == "reset":
                self.resets += 1
                link.close(reset=True)
            elif mode == "blackhole":
                link.tainted = True
            elif leaving_blackhole and link.tainted:
                link.close(reset=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        link = _Link(writer, tainted=self.mode == "blackhole")
        if self.mode == "reset":
            self.resets += 1
            link.close(reset=True)
            return
        self._links.add(link)
        try:
            while self.mode == "blackhole":  # hold the connection; nothing reaches the broker yet
                if link.tainted and not await _drain_some(reader):
                    return
            if link.tainted:
                return
            try:
                up_reader, link.upstream = await asyncio.open_connection(self.host, self.upstream_port)
            except OSError:
                link.close(reset=True)  # the broker is away: the client sees a refused connection
                return
            await asyncio.gather(self._pump(reader, link.upstream, link), self._pump(up_reader, writer, link))
        finally:
            self._links.discard(link)
            link.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while True:
                chunk = await reader.read(CHUNK)
                if not chunk:
                    break
                if self.mode == "blackhole" or link.tainted:
                    continue  # swallowed
                if self.mode == "delay" and self.delay_ms > 0:
                    await asyncio.sleep(self.delay_ms / 1000)
                writer.write(chunk)
                await writer.drain()
        link.close()


async def _drain_some(reader: asyncio.StreamReader) -> bool:
    """Read and drop what a held client sends; False once it has gone."""
    try:
        chunk = await asyncio.wait_for(reader.read(CHUNK), 0.2)
    except TimeoutError:
        return True
    except OSError:
        return False
    return bool(chunk)
