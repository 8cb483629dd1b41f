"""deploy/k8s/ agrees with what the code reads.

Every manifest parses; every VOTEWIRE_* variable is a Settings field (or one of the Kafka
security settings, added with SASL/TLS support) and parses; the ports are the code's defaults;
the probe paths answer on the real worker and gateway web apps; Prometheus scrapes the ports
and path that serve the metrics, under the job names the alert rules use. Needs PyYAML.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from streams.cli import build_parser
from streams.gateway.live import LiveResults
from streams.gateway.server import build_app
from streams.localkafka.kafka_local import free_port
from streams.metrics import serve_metrics
from streams.settings import Settings, split_addr

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
# Read by the Kafka clients once SASL/TLS support lands (the settings for an existing secured
# cluster); every other VOTEWIRE_* name must be a Settings field today.
SECURITY_SETTINGS = {"VOTEWIRE_SECURITY_PROTOCOL", "VOTEWIRE_SASL_MECHANISM", "VOTEWIRE_SASL_USERNAME",
                     "VOTEWIRE_SASL_PASSWORD_FILE", "VOTEWIRE_SSL_CAFILE"}


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    out = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            out += [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    return out


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"one {kind} {name} expected, found {len(found)}"
    return found[0]


def container(workload: dict[str, Any]) -> dict[str, Any]:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env_of(docs: list[dict[str, Any]], workload: dict[str, Any]) -> dict[str, str]:
    """The container's variables: its ConfigMaps, then its own `env` (values, or secret refs as '')."""
    c = container(workload)
    env: dict[str, str] = {}
    for source in c.get("envFrom", []):
        env.update(find(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
    env.update({e["name"]: str(e.get("value", "")) for e in c.get("env", [])})
    return env


def port_named(workload: dict[str, Any], name: str) -> int:
    return next(int(p["containerPort"]) for p in container(workload)["ports"] if p["name"] == name)


def test_kustomization_lists_every_manifest_and_each_parses(docs: list[dict[str, Any]]) -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert {("StatefulSet", "votewire-worker"), ("Deployment", "votewire-gateway"), ("Service", "votewire-gateway"),
            ("PodMonitor", "votewire-worker"), ("ServiceMonitor", "votewire-gateway"), ("Job", "votewire-topics"),
            ("ConfigMap", "votewire-config")} <= kinds
    for d in docs:
        assert d["apiVersion"]
        assert d["metadata"]["name"]


@pytest.mark.parametrize(("kind", "name", "verb"), [("StatefulSet", "votewire-worker", "worker"),
                                                    ("Deployment", "votewire-gateway", "gateway"),
                                                    ("Job", "votewire-topics", "topics")])
def test_commands_parse_and_variables_are_settings(docs: list[dict[str, Any]], kind: str, name: str,
                                                   verb: str) -> None:
    workload = find(docs, kind, name)
    assert build_parser().parse_args(container(workload)["args"]).verb == verb
    env = env_of(docs, workload)
    fields = {f"VOTEWIRE_{f.upper()}" for f in Settings.__dataclass_fields__}
    unknown = {k for k in env if k.startswith("VOTEWIRE_")} - fields - SECURITY_SETTINGS
    assert not unknown, unknown
    Settings.from_env({k: v for k, v in env.items() if k in fields})  # ConfigError on a value it cannot read
    assert env["VOTEWIRE_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert set(env) >= SECURITY_SETTINGS


def test_secret_files_are_mounted_where_the_settings_point(docs: list[dict[str, Any]]) -> None:
    for kind, name in (("StatefulSet", "votewire-worker"), ("Deployment", "votewire-gateway"),
                       ("Job", "votewire-topics")):
        workload = find(docs, kind, name)
        env = env_of(docs, workload)
        mounts = {m["name"]: m["mountPath"] for m in container(workload)["volumeMounts"]}
        volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
        secret_dir = mounts["kafka-credentials"]
        assert volumes["kafka-credentials"]["secret"]["secretName"] == "votewire-kafka"
        for key in ("VOTEWIRE_SASL_PASSWORD_FILE", "VOTEWIRE_SSL_CAFILE"):
            assert str(Path(env[key]).parent) == secret_dir, (name, key)
        user = next(e for e in container(workload)["env"] if e["name"] == "VOTEWIRE_SASL_USERNAME")
        assert user["valueFrom"]["secretKeyRef"]["name"] == "votewire-kafka"


def test_worker_state_dir_is_the_persistent_volume(docs: list[dict[str, Any]]) -> None:
    worker = find(docs, "StatefulSet", "votewire-worker")
    env = env_of(docs, worker)
    claims = {c["metadata"]["name"] for c in worker["spec"]["volumeClaimTemplates"]}
    mounts = {m["name"]: m["mountPath"] for m in container(worker)["volumeMounts"]}
    assert mounts["data"] == env["VOTEWIRE_DATA_DIR"]
    assert "data" in claims


def test_ports_are_the_code_defaults(docs: list[dict[str, Any]]) -> None:
    worker, gateway = find(docs, "StatefulSet", "votewire-worker"), find(docs, "Deployment", "votewire-gateway")
    worker_port = split_addr(env_of(docs, worker)["VOTEWIRE_WORKER_WEB_ADDR"], "w")[1]
    gateway_port = split_addr(env_of(docs, gateway)["VOTEWIRE_GATEWAY_ADDR"], "g")[1]
    assert worker_port == port_named(worker, "metrics") == split_addr(Settings().worker_web_addr, "d")[1]
    assert gateway_port == port_named(gateway, "http") == split_addr(Settings().gateway_addr, "d")[1]
    service = find(docs, "Service", "votewire-gateway")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"].items() <= gateway["spec"]["template"]["metadata"]["labels"].items()
    policy = find(docs, "NetworkPolicy", "votewire-worker-metrics")
    assert [p["port"] for p in policy["spec"]["ingress"][0]["ports"]] == [worker_port]


def probe_paths(workload: dict[str, Any]) -> set[str]:
    c = container(workload)
    return {c[probe]["httpGet"]["path"] for probe in ("readinessProbe", "livenessProbe")}


def test_worker_probe_and_metrics_paths_answer_on_the_worker_web_app(docs: list[dict[str, Any]]) -> None:
    worker = find(docs, "StatefulSet", "votewire-worker")
    monitor = find(docs, "PodMonitor", "votewire-worker")
    endpoint = monitor["spec"]["podMetricsEndpoints"][0]
    assert endpoint["port"] == "metrics"
    pod_labels = worker["spec"]["template"]["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    paths = probe_paths(worker) | {endpoint["path"]}

    async def statuses() -> dict[str, int]:
        addr = f"127.0.0.1:{free_port()}"
        runner = await serve_metrics(addr, CollectorRegistry(), ready=lambda: True)
        try:
            async with ClientSession() as session:
                return {p: (await session.get(f"http://{addr}{p}")).status for p in paths}
        finally:
            await runner.cleanup()

    assert asyncio.run(asyncio.wait_for(statuses(), 20)) == dict.fromkeys(paths, 200)


def test_gateway_probe_and_metrics_paths_answer_on_the_gateway_app(docs: list[dict[str, Any]]) -> None:
    gateway = find(docs, "Deployment", "votewire-gateway")
    monitor = find(docs, "ServiceMonitor", "votewire-gateway")
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["port"] == "http"
    service = find(docs, "Service", "votewire-gateway")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    paths = probe_paths(gateway) | {endpoint["path"]}

    async def statuses() -> dict[str, int]:
        async with TestClient(TestServer(build_app(LiveResults()))) as client:
            return {p: (await client.get(p)).status for p in paths}

    got = asyncio.run(asyncio.wait_for(statuses(), 20))
    # /readyz is 503 until the gateway has caught up with the topics: it exists, it is not ready.
    assert got == {p: 503 if p == "/readyz" else 200 for p in paths}


def test_prometheus_jobs_are_the_names_the_alert_rules_use(docs: list[dict[str, Any]]) -> None:
    rules = (K8S.parent / "prometheus" / "rules.yml").read_text()
    used = set(re.findall(r'job="([^"]+)"', rules))
    jobs = set()
    for kind, name, key in (("PodMonitor", "votewire-worker", "podMetricsEndpoints"),
                            ("ServiceMonitor", "votewire-gateway", "endpoints")):
        for endpoint in find(docs, kind, name)["spec"][key]:
            jobs |= {r["replacement"] for r in endpoint["relabelings"] if r["targetLabel"] == "job"}
    assert used == jobs
