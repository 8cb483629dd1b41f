"""A local single-node Apache Kafka broker (KRaft, combined broker and controller).

For development, demos and tests: the jars come from Maven Central through the small Maven
project in `deploy/kafka/pom.xml` into `~/.cache/votewire/kafka-<version>/libs`, the data
and the log live under `$VOTEWIRE_DATA_DIR/kafka`, and the broker runs in the background with
a small heap. Readiness is a metadata request from Python, not a sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from streams.errors import BrokerError, SetupError
from streams.kafka.clients import kafka_client
from streams.settings import Secret, Settings

REPO_POM = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "pom.xml"

SERVER_PROPERTIES = """\
# Written by `votewire kafka start`; rewritten on every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@{host}:{controller_port}
listeners={listener}://{host}:{port},CONTROLLER://{host}:{controller_port}
advertised.listeners={listener}://{host}:{advertised_port}
controller.listener.names=CONTROLLER
inter.broker.listener.name={listener}
listener.security.protocol.map={listener}:{listener},CONTROLLER:PLAINTEXT
log.dirs={log_dir}
num.partitions=1
# One node: every internal topic must live with replication factor and min ISR 1, or
# consumer groups (offsets), transactions and share groups never become available.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
# Tests and demos start consumer groups constantly; don't wait 3 s for more members.
group.initial.rebalance.delay.ms=0
log.cleaner.enable=true
# The cleaner takes its dedupe buffer (128 MiB by default) from the heap at start: on a small
# heap a node restarted after a SIGKILL, busy recovering its logs, failed with it in
# LogCleaner.startup. The compacted topics here are small; 16 MiB dedupes ~500,000 keys.
log.cleaner.dedupe.buffer.size=16777216
auto.create.topics.enable=true
delete.topic.enable=true
"""

# Added for a broker with `BrokerSecurity`: clients log in with SCRAM-SHA-512 over TLS (PEM
# files), and the StandardAuthorizer allows only what an ACL allows. The controller listener
# stays PLAINTEXT on loopback, so the broker's own requests to its controller arrive as
# User:ANONYMOUS, which must therefore be a super user: fine for a local broker, whose
# controller port is a random loopback one, not for a shared machine.
SECURITY_PROPERTIES = """\
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=\
  org.apache.kafka.common.security.scram.ScramLoginModule required username="{admin}" password="{password}";
ssl.keystore.type=PEM
ssl.keystore.location={keystore}
ssl.truststore.type=PEM
ssl.truststore.location={truststore}
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:{admin};User:ANONYMOUS
"""

LOG4J2 = """\
Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka.request.logger
        level: WARN
      - name: org.apache.kafka.controller
        level: WARN
"""


@dataclass(frozen=True)
class BrokerSecurity:
    """A SASL_SSL listener instead of PLAINTEXT: SCRAM-SHA-512 users created when the storage is
    formatted, a PEM key and certificate chain, and ACLs enforced (`admin` is the super user)."""

    keystore: Path  # PEM: the broker's private key (PKCS#8, unencrypted) and its certificate chain
    cafile: Path  # PEM: the CA that signed it, which clients trust
    admin: str
    admin_password: Secret
    users: tuple[tuple[str, Secret], ...] = ()

    def login(self, settings: Settings, user: str, password: Secret) -> Settings:
        """`settings` for a client of this broker logging in as `user`."""
        return settings.with_(security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512",
                              sasl_username=user, sasl_password=password, sasl_password_file="",
                              ssl_cafile=str(self.cafile))


@dataclass(frozen=True)
class LocalBroker:
    """Where one local broker keeps its files, and how to reach it."""

    settings: Settings
    # The port clients are told to use (advertised.listeners), when not the broker's own:
    # a TCP proxy in front of the broker (faults/proxy.py) must carry every client's traffic.
    advertised_port: int | None = field(default=None, kw_only=True)
    security: BrokerSecurity | None = field(default=None, kw_only=True)

    @property
    def home(self) -> Path:
        return Path(self.settings.data_dir) / "kafka"

    @property
    def libs(self) -> Path:
        return Path(self.settings.cache_dir) / f"kafka-{self.settings.kafka_version}" / "libs"

    @property
    def log_file(self) -> Path:
        return self.home / "kafka.log"

    @property
    def pid_file(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def bootstrap(self) -> str:
        host, port = self.settings.host_port
        return f"{host}:{port}"

    @property
    def admin_settings(self) -> Settings:
        """Settings that reach this broker with every right (its super user when secured)."""
        if self.security is None:  # a broker without security: whatever VOTEWIRE_SECURITY_* say
            return self.settings.with_(security_protocol="PLAINTEXT", ssl_cafile="")
        return self.security.login(self.settings, self.security.admin, self.security.admin_password)


# --- jars ------------------------------------------------------------------------------------


def jars_ready(broker: LocalBroker) -> bool:
    return (broker.libs / ".complete").exists()


def fetch_jars(broker: LocalBroker, pom: Path = REPO_POM) -> Path:
    """Resolve Kafka and its log4j binding from Maven Central into the cache (idempotent)."""
    if jars_ready(broker):
        return broker.libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise SetupError("mvn not found: install Maven (apt-get install maven) to fetch the Kafka jars")
    if not pom.exists():
        raise SetupError(f"{pom} not found: run from a votewire checkout or run `make install` first")
    broker.libs.mkdir(parents=True, exist_ok=True)
    cmd = [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
           f"-DoutputDirectory={broker.libs}", f"-Dkafka.version={broker.settings.kafka_version}"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
        raise SetupError("mvn could not fetch the Kafka jars: " + " | ".join(tail))
    (broker.libs / ".complete").write_text(broker.settings.kafka_version)
    return broker.libs


def java_binary() -> str:
    home = os.environ.get("JAVA_HOME")
    candidate = Path(home) / "bin" / "java" if home else None
    if candidate is not None and candidate.exists():
        return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise SetupError("java not found: install Java 17+ (apt-get install openjdk-17-jre-headless) "
                         "or set JAVA_HOME")
    return found


# --- process state ---------------------------------------------------------------------------


def running_pid(broker: LocalBroker) -> int | None:
    """The pid of this data dir's broker when it is alive, else None (a stale file is removed)."""
    try:
        pid = int(broker.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        broker.pid_file.unlink(missing_ok=True)  # the process is gone
        return None
    return pid if b"kafka.Kafka" in cmdline else None


def _exited(pid: int) -> bool:
    """True when our child `pid` has exited (reaping it, so it leaves no zombie)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return not Path(f"/proc/{pid}").exists()
    return done == pid


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


async def metadata_ready(settings: Settings, timeout_s: float = 2.0) -> bool:
    """True when the broker at `settings.bootstrap` answers a metadata request and lists itself
    (logging in as the settings say)."""
    from aiokafka.client import AIOKafkaClient

    # A broker still starting refuses connections; aiokafka logs each refusal as an error.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    client = kafka_client(AIOKafkaClient, settings, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(client.bootstrap(), timeout_s)
        return bool(client.cluster.brokers())
    except Exception:  # noqa: BLE001 - any failure here just means "not ready yet"
        return False
    finally:
        await client.close()


# --- start / stop / status -------------------------------------------------------------------


def _write_config(broker: LocalBroker) -> Path:
    host, port = broker.settings.host_port
    broker.home.mkdir(parents=True, exist_ok=True)
    config = broker.home / "server.properties"
    text = SERVER_PROPERTIES.format(listener="SASL_SSL" if broker.security else "PLAINTEXT", host=host,
                                    port=port, advertised_port=broker.advertised_port or port,
                                    controller_port=free_port(host), log_dir=broker.home / "data")
    if broker.security is not None:
        sec = broker.security
        text += SECURITY_PROPERTIES.format(admin=sec.admin, password=sec.admin_password.reveal(),
                                           keystore=sec.keystore, truststore=sec.cafile)
    config.write_text(text)
    (broker.home / "log4j2.yaml").write_text(LOG4J2)
    return config


def _format_storage(broker: LocalBroker, java: str, config: Path, cluster_id: str | None = None) -> None:
    """Formats the data dir once; the nodes of a cluster (`streams.localkafka.kafka_cluster`) share `cluster_id`."""
    if (broker.home / "data" / "meta.properties").exists():
        return
    cmd = [java, "-cp", f"{broker.libs}/*", "kafka.tools.StorageTool", "format",
           "-t", cluster_id or uuid.uuid4().hex[:22], "-c", str(config), "--ignore-formatted"]
    if broker.security is not None:  # SCRAM users exist from the first start on
        sec = broker.security
        for user, password in ((sec.admin, sec.admin_password), *sec.users):
            cmd += ["--add-scram", f"SCRAM-SHA-512=[name={user},password={password.reveal()}]"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BrokerError(f"formatting {broker.home / 'data'} failed: {done.stdout}{done.stderr}".strip())


def start(broker: LocalBroker, deadline_s: float = 90.0) -> str:
    """Start the broker in the background and wait for it; returns a line saying what happened."""
    if (pid := running_pid(broker)) is not None:
        return f"kafka already running at {broker.bootstrap} (pid {pid}, log {broker.log_file})"
    host, port = broker.settings.host_port
    if port_in_use(host, port):
        raise SetupError(f"port {port} on {host} is already in use by another process: stop it, or set "
                         f"VOTEWIRE_BOOTSTRAP={host}:<free port>")
    java = java_binary()
    fetch_jars(broker)
    config = _write_config(broker)
    _format_storage(broker, java, config)
    began = time.monotonic()
    pid = _launch(broker, java, config)
    _wait_ready(broker, pid, began + deadline_s)
    return f"kafka ready at {broker.bootstrap} in {time.monotonic() - began:.1f}s (pid {pid}, log {broker.log_file})"


def _launch(broker: LocalBroker, java: str, config: Path) -> int:
    heap = broker.settings.kafka_heap
    cmd = [java, f"-Xmx{heap}", "-Xms128m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
           "-Djava.awt.headless=true", f"-Dlog4j2.configurationFile={broker.home / 'log4j2.yaml'}",
           "-cp", f"{broker.libs}/*", "kafka.Kafka", str(config)]
    # posix_spawn rather than Popen: the broker outlives this command (`kafka start` returns),
    # and its own session keeps a Ctrl-C in our terminal from reaching it.
    pid = os.posix_spawn(cmd[0], cmd, dict(os.environ), setsid=True, file_actions=[
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(broker.log_file), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ])
    broker.pid_file.write_text(str(pid))
    return pid


def _wait_ready(broker: LocalBroker, pid: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        if _exited(pid):
            broker.pid_file.unlink(missing_ok=True)
            raise BrokerError(f"kafka exited during start-up; last lines of {broker.log_file}:\n"
                              + _log_tail(broker))
        if _probe(broker):
            return
        time.sleep(0.3)
    stop(broker)
    raise BrokerError(f"kafka did not become ready in time; see {broker.log_file}")


def _probe(broker: LocalBroker) -> bool:
    """One readiness probe. The broker binds its port long before it accepts on it, and a TLS
    handshake given up in that gap leaves its socket to the garbage collector (asyncio), which
    warns: a secured broker's probe waits longer, and what a probe left is collected here."""
    timeout_s = 30.0 if broker.security else 2.0
    ready = asyncio.run(metadata_ready(broker.admin_settings.with_(bootstrap=broker.bootstrap), timeout_s))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    return ready


def _log_tail(broker: LocalBroker, lines: int = 15) -> str:
    """The log's last lines, after its last ERROR line when that is further up: a Java stack
    trace is longer than the tail, and the line that says what went wrong is above it."""
    with contextlib.suppress(OSError):
        text = broker.log_file.read_text(errors="replace").splitlines()
        errors = [line for line in text[:-lines] if " ERROR " in line or " FATAL " in line]
        return "\n".join(errors[-1:] + ["..."] * bool(errors) + text[-lines:])
    return "(no log)"


def stop(broker: LocalBroker, deadline_s: float = 60.0) -> str:
    """Stop the broker cleanly (SIGTERM: controlled shutdown), SIGKILL only past the deadline."""
    pid = running_pid(broker)
    if pid is None:
        return f"kafka is not running (data dir {broker.home})"
    os.kill(pid, signal.SIGTERM)
    end = time.monotonic() + deadline_s
    while time.monotonic() < end and running_pid(broker) == pid:
        time.sleep(0.2)
    how = "stopped"
    if running_pid(broker) == pid:
        os.kill(pid, signal.SIGKILL)
        how = "killed after not stopping in time"
        time.sleep(0.5)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    broker.pid_file.unlink(missing_ok=True)
    host, port = broker.settings.host_port
    _wait_port_free(host, port, time.monotonic() + 10)
    return f"kafka {how} (was pid {pid}); {host}:{port} is free"


def _wait_port_free(host: str, port: int, deadline: float) -> None:
    while time.monotonic() < deadline and port_in_use(host, port):
        time.sleep(0.1)


def status(broker: LocalBroker) -> tuple[bool, str]:
    pid = running_pid(broker)
    if pid is None:
        return False, f"kafka is not running (data dir {broker.home})"
    ready = asyncio.run(metadata_ready(broker.admin_settings.with_(bootstrap=broker.bootstrap)))
    state = "ready" if ready else "starting or not answering"
    return ready, f"kafka {state} at {broker.bootstrap} (pid {pid}, data {broker.home}, log {broker.log_file})"


# --- for streams.localkafka.kafka_cluster, which runs the same broker process N times -------------------

format_storage, launch, wait_ready, exited = _format_storage, _launch, _wait_ready, _exited
