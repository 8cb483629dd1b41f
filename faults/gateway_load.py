"""Fault scenario: the gateway under load, against a real broker fed with a simulated night.

    python -m faults.gateway_load --bootstrap 127.0.0.1:9092 --seed 1 [--clients 1000]

A `votewire worker` tallies a simulated night (`simulate --preset small`) and a `votewire
gateway` follows its output topics. The first half of the night is replayed before the load,
so every stream client gets a real resync burst; the second half is replayed during it, so
events flow to every client while:
- `--clients` SSE clients hold `/v1/stream` open and read everything;
- `--slow-clients` open `/v1/stream` with a tiny receive buffer and never read a byte;
- `wrk` hammers `/v1/races` and a race's snapshot for `--wrk-seconds`.
Then a fresh HTTP client and a fresh stream client must still be served. The figures: clients
held, the gateway's RSS before, at its peak during and after the load, wrk's requests/s and
latency, slow clients dropped (the gateway's own counter), and pass/fail. It passes when every
reading client is still held at the end, the fresh clients are served, the peak RSS stays
within `--rss-budget-mb` of the RSS before the load, and wrk got answers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.localkafka.kafka_local import free_port

SNAPSHOT_PATH = "/v1/results/2024-11-05/president/{state}"
DEADLINE_S = 240.0


@dataclass
class Processes:
    """The worker, gateway and replays this scenario started (and stops, by their own ids)."""

    env: dict[str, str]
    logs: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with open(self.logs / f"{name}.log", "ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", "streams.cli", *args], env=self.env, stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.started.append(proc)
        return proc

    def log_text(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.started:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def raise_fd_limit(needed: int) -> int:
    """Lift the soft open-files limit toward `needed` (children inherit it); the limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def split_night(recording: Path, out: Path) -> tuple[Path, Path, int]:
    """The night's first half (definitions and estimates come first) and second half, as files."""
    lines = recording.read_bytes().splitlines(keepends=True)
    half = len(lines) // 2
    first, second = out / "first-half.jsonl", out / "second-half.jsonl"
    first.write_bytes(b"".join(lines[:half]))
    second.write_bytes(b"".join(lines[half:]))
    return first, second, len(lines) - half


async def wait_until(check: Any, what: str, deadline_s: float = DEADLINE_S, every_s: float = 0.5) -> None:
    """Poll `check` (a server, or clients' counters: nothing to wait on as an event) until it holds."""
    try:
        async with asyncio.timeout(deadline_s):
            while not await check():  # noqa: ASYNC110 - polls a server or counters: no event to wait on
                await asyncio.sleep(every_s)
    except TimeoutError:
        raise TimeoutError(f"gave up after {deadline_s:.0f} s waiting for {what}") from None


async def http_get(addr: str, path: str, timeout_s: float = 10.0) -> tuple[int, bytes]:
    """A one-shot HTTP/1.0 GET over a raw socket: (status, body)."""
    host, port = addr.split(":")
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout_s)
    try:
        writer.write(f"GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n".encode())
        answer = await asyncio.wait_for(reader.read(), timeout_s)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return (int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0), body


@dataclass
class StreamClient:
    """One `/v1/stream` client: reading everything, or (slow) never reading at all."""

    writer: asyncio.StreamWriter
    reader: asyncio.StreamReader
    task: asyncio.Task[None] | None = None
    bytes_read: int = 0
    ok: bool = False
    open: bool = True

    async def read_forever(self) -> None:
        head = await self.reader.readuntil(b"\r\n\r\n")
        self.ok = head.startswith(b"HTTP/1.1 200")
        while chunk := await self.reader.read(65536):
            self.bytes_read += len(chunk)
        self.open = False


async def open_stream(addr: str, slow: bool) -> StreamClient:
    host, port = addr.split(":")
    sock = socket.socket()
    if slow:  # a tiny window: the gateway's writes back up after a few KB
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(f"GET /v1/stream HTTP/1.1\r\nHost: {addr}\r\n\r\n".encode())
    client = StreamClient(writer, reader)
    if not slow:
        client.task = asyncio.create_task(client.read_forever())
    return client


async def fresh_stream_served(addr: str, timeout_s: float = 20.0) -> bool:
    """A new stream client gets its resync burst and the `sync` event in time."""
    client = await open_stream(addr, slow=False)
    try:
        async with asyncio.timeout(timeout_s):
            while client.bytes_read == 0 or client.task is None or client.task.done():
                if client.task is not None and client.task.done():
                    return False
                await asyncio.sleep(0.1)
            return client.ok
    except TimeoutError:
        return False
    finally:
        close_clients([client])


def close_clients(clients: list[StreamClient]) -> None:
    for client in clients:
        if client.task is not None:
            client.task.cancel()
        client.writer.transport.abort()


def parse_wrk(out: str) -> dict[str, Any]:
    def number(pattern: str) -> float | None:
        match = re.search(pattern, out)
        return float(match.group(1)) if match else None

    def ms(text: str | None) -> float | None:
        if text is None:
            return None
        value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    p99 = re.search(r"99%\s+([\d.]+(?:us|ms|s))", out)
    errors = re.search(r"Socket errors:.*", out)
    avg = re.search(r"Latency\s+([\d.]+(?:us|ms|s))", out)
    return {"requests_per_s": number(r"Requests/sec:\s+([\d.]+)"),
            "requests": number(r"(\d+) requests in"),
            "latency_avg_ms": ms(avg.group(1) if avg else None), "latency_p99_ms": ms(p99.group(1) if p99 else None),
            "non_2xx": number(r"Non-2xx or 3xx responses:\s+(\d+)") or 0,
            "timeouts": number(r"Socket errors:.*timeout (\d+)") or 0,
            "socket_errors": errors.group(0) if errors else None}


async def run_wrk(addr: str, seconds: float, connections: int, state: str) -> dict[str, Any]:
    script = Path(tempfile.mkdtemp(prefix="wrk-")) / "paths.lua"
    script.write_text(  # alternate between the race list and one race's snapshot
        'local i = 0\nrequest = function()\n  i = i + 1\n'
        f'  if i % 2 == 0 then return wrk.format(nil, "/v1/races") end\n'
        f'  return wrk.format(nil, "{SNAPSHOT_PATH.format(state=state)}")\nend\n')
    wrk = shutil.which("wrk") or "/usr/bin/wrk"
    command = [wrk, "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "-s", str(script),
               f"http://{addr}/"]
    proc = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), seconds + 60)
    text = out.decode(errors="replace")
    return {**parse_wrk(text), "command": " ".join(command), "output": text.strip().splitlines()[-12:]}


def metric_value(metrics: bytes, name: str, labels: str = "") -> float:
    pattern = re.escape(name + (f"{{{labels}}}" if labels else "")) + r" ([0-9.e+-]+)"
    match = re.search(pattern.encode(), metrics)
    return float(match.group(1)) if match else 0.0


@contextlib.contextmanager
def pipeline(bootstrap: str, seed: int, work: Path,
             idle_timeout_s: float) -> Iterator[tuple[Processes, str, Path, int]]:
    """A worker and a gateway on a fresh topic prefix, and the night's second half to replay."""
    prefix = f"gwload-{seed}-{secrets.token_hex(3)}."
    env = {**os.environ, "VOTEWIRE_BOOTSTRAP": bootstrap, "VOTEWIRE_TOPIC_PREFIX": prefix,
           "VOTEWIRE_DATA_DIR": str(work / "data"), "VOTEWIRE_APP_ID": f"votewire-{prefix.rstrip('.')}",
           "VOTEWIRE_WORKER_WEB_ADDR": f"127.0.0.1:{free_port()}", "VOTEWIRE_LOG_LEVEL": "info",
           "VOTEWIRE_GATEWAY_IDLE_TIMEOUT_S": str(idle_timeout_s)}
    procs = Processes(env, work)
    night = work / "night.jsonl"
    subprocess.run([sys.executable, "-m", "streams.cli", "simulate", "--preset", "small", "--seed", str(seed),
                    "--jobs", "1", "--out", str(night)], env=env, check=True, capture_output=True, timeout=300)
    first, second, second_lines = split_night(night, work)
    addr = f"127.0.0.1:{free_port()}"
    try:
        procs.start("worker", "worker")
        deadline = time.monotonic() + DEADLINE_S
        while "[^Worker]: Ready" not in procs.log_text("worker"):
            if time.monotonic() > deadline or procs.started[0].poll() is not None:
                raise RuntimeError(f"the worker did not get ready; see {work / 'worker.log'}")
            time.sleep(0.5)
        procs.start("gateway", "gateway", "--addr", addr)
        subprocess.run([sys.executable, "-m", "streams.cli", "replay", "--max", "--no-progress", str(first)],
                       env=env, check=True, capture_output=True, timeout=300)
        yield procs, addr, second, second_lines
    finally:
        procs.stop_all()


async def load(procs: Processes, addr: str, second_half: Path, second_lines: int,
               args: argparse.Namespace) -> dict[str, Any]:
    gateway_pid = procs.started[1].pid

    async def has_snapshots() -> bool:
        with contextlib.suppress(OSError, TimeoutError, ValueError):
            status, body = await http_get(addr, "/v1/races")
            return status == 200 and len(json.loads(body)["races"]) > 0
        return False

    await wait_until(has_snapshots, "the gateway serving the first half's snapshots")
    state = json.loads((await http_get(addr, "/v1/races"))[1])["races"][0]["state"]
    before = rss_mb(gateway_pid)
    readers = [await open_stream(addr, slow=False) for _ in range(args.clients)]
    slow = [await open_stream(addr, slow=True) for _ in range(args.slow_clients)]

    async def all_streaming() -> bool:
        return all(c.ok and c.bytes_read > 0 for c in readers)

    await wait_until(all_streaming, "every stream client getting its resync burst")
    connected_rss = rss_mb(gateway_pid)
    gap = max(0.001, args.wrk_seconds / max(1, second_lines))
    procs.start("replay", "replay", "--speed", "1000000", "--max-gap", f"{gap:.4f}", "--no-progress", str(second_half))
    peak = max(before, connected_rss)
    sampling = True

    async def sample() -> None:
        nonlocal peak
        while sampling:
            peak = max(peak, rss_mb(gateway_pid))
            await asyncio.sleep(0.25)

    sampler = asyncio.create_task(sample())
    wrk = await run_wrk(addr, args.wrk_seconds, args.wrk_connections, state)
    await asyncio.sleep(args.settle_seconds)  # slow clients' writes time out; events keep flowing
    held = sum(1 for c in readers if c.ok and c.open and c.task is not None and not c.task.done())
    fresh_http = (await http_get(addr, SNAPSHOT_PATH.format(state=state)))[0] == 200
    fresh_stream = await fresh_stream_served(addr)
    metrics = (await http_get(addr, "/metrics"))[1]
    sampling = False
    await sampler
    close_clients(readers + slow)
    await asyncio.sleep(3)
    after = rss_mb(gateway_pid)
    return {"sse_clients": args.clients, "sse_clients_held": held, "slow_clients": args.slow_clients,
            "slow_clients_dropped": metric_value(metrics, "votewire_gateway_sse_dropped_total",
                                                 'reason="slow_reader"')
            + metric_value(metrics, "votewire_gateway_sse_dropped_total", 'reason="too_far_behind"'),
            "stream_bytes_read_mb": round(sum(c.bytes_read for c in readers) / 2**20, 1),
            "gateway_rss_mb": {"before": round(before, 1), "clients_connected": round(connected_rss, 1),
                               "peak_during": round(peak, 1), "after": round(after, 1)},
            "wrk": wrk, "fresh_http_served": fresh_http, "fresh_stream_served": fresh_stream}


def verdict(figures: dict[str, Any], rss_budget_mb: float) -> dict[str, Any]:
    rss = figures["gateway_rss_mb"]
    checks = {
        "every reading client held": figures["sse_clients_held"] == figures["sse_clients"],
        "fresh clients served": figures["fresh_http_served"] and figures["fresh_stream_served"],
        f"peak RSS within {rss_budget_mb:.0f} MB of before": rss["peak_during"] - rss["before"] <= rss_budget_mb,
        "wrk got answers": (figures["wrk"]["requests"] or 0) - figures["wrk"]["timeouts"] > 0,
    }
    figures["wrk"]["answered"] = (figures["wrk"]["requests"] or 0) - figures["wrk"]["timeouts"]
    return {**figures, "checks": checks, "passed": all(checks.values())}


def run(seed: int, bootstrap: str, clients: int = 1000, slow_clients: int = 50, wrk_seconds: float = 15.0,
        wrk_connections: int = 64, rss_budget_mb: float = 256.0, settle_seconds: float = 15.0,
        work_dir: Path | None = None) -> dict[str, Any]:
    """Run the scenario once against the broker at `bootstrap`; the figures and `passed`."""
    args = argparse.Namespace(clients=clients, slow_clients=slow_clients, wrk_seconds=wrk_seconds,
                              wrk_connections=wrk_connections, settle_seconds=settle_seconds)
    fd_limit = raise_fd_limit(2 * (clients + slow_clients + wrk_connections) + 256)
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        work = work_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gwload-")))
        work.mkdir(parents=True, exist_ok=True)
        with pipeline(bootstrap, seed, work, idle_timeout_s=15.0) as (procs, addr, second_half, second_lines):
            figures = asyncio.run(asyncio.wait_for(load(procs, addr, second_half, second_lines, args),
                                                   DEADLINE_S + wrk_seconds))
    return {"scenario": "gateway_load", "seed": seed, "fd_limit": fd_limit,
            "seconds": round(time.monotonic() - started, 1), **verdict(figures, rss_budget_mb)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m faults.gateway_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", required=True, help="a running broker, host:port")
    parser.add_argument("--seed", type=int, default=1, help="seed of the simulated night (default 1)")
    parser.add_argument("--clients", type=int, default=1000, help="SSE clients that read (default 1000)")
    parser.add_argument("--slow-clients", type=int, default=50, help="SSE clients that never read (default 50)")
    parser.add_argument("--wrk-seconds", type=float, default=15.0, help="how long wrk runs (default 15)")
    parser.add_argument("--wrk-connections", type=int, default=64, help="wrk's connections (default 64)")
    parser.add_argument("--rss-budget-mb", type=float, default=256.0,
                        help="the most the gateway's RSS may grow under load (default 256)")
    parser.add_argument("--work-dir", type=Path, help="keep the night, data and logs here (default: a temp dir)")
    args = parser.parse_args(argv)
    try:
        result = run(args.seed, args.bootstrap, args.clients, args.slow_clients, args.wrk_seconds,
                     args.wrk_connections, args.rss_budget_mb, work_dir=args.work_dir)
    except KeyboardInterrupt:
        print("gateway_load: interrupted", file=sys.stderr)
        return 130
    print(json.dumps(result, indent=2))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
