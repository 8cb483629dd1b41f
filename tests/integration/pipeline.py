"""The whole votewire pipeline for integration tests: a real worker and gateway as child
processes on the session broker, and the bundled Minnesota 2024 night replayed into them at
a pace a test can watch. Loopback addresses only; both processes are stopped at the end.
"""

from __future__ import annotations

import contextlib
import gzip
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

import streams
from streams.contract import decode_precinct_record
from streams.kafka.replay import ReplayStats, replay_files
from streams.localkafka.kafka_local import free_port
from streams.settings import Settings
from tests.integration.harness import running_worker, votewire_env, votewire_process, wait_for

MN_NIGHT = Path(streams.__file__).resolve().parent / "data" / "mn-2024-general.jsonl.gz"
MN_PRESIDENT = "2024-11-05/president/MN/live"
# The official result (streams/data/README.md): Harris 1,656,979 and Trump 1,519,032 of
# 3,253,920. The recording's last race definition is certified, so the counted figure is 100.
MN_OFFICIAL_READOUT = "Harris 50.9% · Trump 46.7% · 100% of expected vote counted"

# The night has 49 snapshot times, mostly 10 minutes apart. At 1200x a 10-minute gap takes
# 0.5 s, and the long ones (before polls close, overnight, the weeks before certification)
# are capped at 0.5 s: about 25 s for the night, still dozens of distinct snapshots.
REPLAY_SPEED = 1200.0
REPLAY_MAX_GAP_S = 0.5


@dataclass(frozen=True)
class Pipeline:
    worker: subprocess.Popen[bytes]
    gateway: subprocess.Popen[bytes]
    worker_addr: str  # host:port of the worker's private /metrics
    gateway_addr: str

    @property
    def gateway_url(self) -> str:
        return f"http://{self.gateway_addr}"


def http_status(url: str) -> int | None:
    """The status of a GET to `url`, or None while nothing answers there."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError):
        return None


@contextlib.contextmanager
def live_pipeline(settings: Settings, logs: Path, worker_addr: str | None = None,
                  gateway_addr: str | None = None) -> Iterator[Pipeline]:
    """`votewire worker` (ready) and `votewire gateway` (its /readyz 200), on free loopback
    ports unless given; their output goes to `logs`/worker.log and gateway.log."""
    worker_addr = worker_addr or f"127.0.0.1:{free_port()}"
    gateway_addr = gateway_addr or f"127.0.0.1:{free_port()}"
    worker_log, gateway_log = logs / "worker.log", logs / "gateway.log"
    try:
        # The worker first: it creates the topics the gateway follows.
        with running_worker(settings, worker_log, VOTEWIRE_WORKER_WEB_ADDR=worker_addr) as worker, \
                votewire_process(["gateway", "--addr", gateway_addr], votewire_env(settings), gateway_log) as gateway:
            wait_for(lambda: http_status(f"http://{worker_addr}/healthz") == 200, 60, every_s=0.3,
                     what="worker metrics port", alive=worker)
            wait_for(lambda: http_status(f"http://{gateway_addr}/readyz") == 200, 90, every_s=0.3,
                     what="gateway ready", alive=gateway)
            yield Pipeline(worker, gateway, worker_addr, gateway_addr)
    except BaseException:
        print_log_tails(worker_log, gateway_log)  # pytest shows them with the failure
        raise


@contextlib.contextmanager
def two_ready_workers(settings: Settings, logs: Path) -> Iterator[tuple[subprocess.Popen[bytes], ...]]:
    """Two workers, yielded once the group has settled: each owns partitions it has rebuilt."""
    addrs = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    with running_worker(settings, logs / "a.log", VOTEWIRE_WORKER_WEB_ADDR=addrs[0]) as a, \
            running_worker(settings, logs / "b.log", VOTEWIRE_WORKER_WEB_ADDR=addrs[1]) as b:
        for addr, proc in zip(addrs, (a, b), strict=True):
            wait_for(lambda addr=addr: http_status(f"http://{addr}/readyz") == 200, 90, every_s=0.3,
                     what=f"worker {addr} ready", alive=proc)
        yield a, b


def print_log_tails(*logs: Path, lines: int = 40) -> None:
    for log in logs:
        tail = log.read_text(errors="replace").splitlines()[-lines:] if log.exists() else ["(no log)"]
        print(f"--- last {lines} lines of {log}", *tail, sep="\n")


async def replay_mn_night(settings: Settings) -> ReplayStats:
    """The bundled night into the test's topics, paced (REPLAY_SPEED, REPLAY_MAX_GAP_S)."""
    return await replay_files(settings, [MN_NIGHT], speed=REPLAY_SPEED, max_gap=REPLAY_MAX_GAP_S, progress=False)


def recorded_reports() -> int:
    """How many precinct reports the bundled night holds (read from the file, not assumed): a
    `state-poll/1` record carries several, so this is not its count of records."""
    with gzip.open(MN_NIGHT) as lines:
        records = [orjson.loads(line) for line in lines if line.strip()]
    return sum(len(decode_precinct_record(orjson.dumps(rec["value"])).reports) for rec in records
               if rec["topic"] == "precinct-results")
