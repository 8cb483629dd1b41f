"""docker-compose.yml and the Dockerfile agree with what the code reads.

Every VOTEWIRE_* variable is a Settings field and parses; every votewire command parses with
the real CLI; ports match the addresses the services listen on and the Prometheus targets;
nothing is published beyond the host's loopback. Needs PyYAML (dev dependency).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.cli import build_parser
from streams.settings import Settings, split_addr

REPO = Path(__file__).resolve().parents[2]
VOTEWIRE_SERVICES = ("topics", "worker", "gateway")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def env_of(service: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in service.get("environment", {}).items()}


def test_every_service_has_an_image(services: dict[str, Any]) -> None:
    assert set(services) >= {"kafka", *VOTEWIRE_SERVICES, "prometheus", "grafana"}
    for name, service in services.items():
        assert service.get("image"), name
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert {services[s]["image"] for s in VOTEWIRE_SERVICES} == {"votewire:dev"}
    assert any("build" in services[s] for s in VOTEWIRE_SERVICES)


def test_kafka_image_is_the_version_the_tests_use(services: dict[str, Any]) -> None:
    assert services["kafka"]["image"] == f"apache/kafka:{Settings().kafka_version}"


@pytest.mark.parametrize("name", VOTEWIRE_SERVICES)
def test_votewire_commands_parse_with_the_real_cli(services: dict[str, Any], name: str) -> None:
    args = build_parser().parse_args(services[name]["command"])
    assert args.verb == name


@pytest.mark.parametrize("name", VOTEWIRE_SERVICES)
def test_votewire_variables_are_settings_fields_and_parse(services: dict[str, Any], name: str) -> None:
    env = env_of(services[name])
    fields = {f"VOTEWIRE_{f.upper()}" for f in Settings.__dataclass_fields__}
    assert set(env) <= fields, set(env) - fields
    Settings.from_env(env)  # raises ConfigError on a value the code cannot read


def test_votewire_services_reach_kafka_on_its_internal_listener(services: dict[str, Any]) -> None:
    advertised = env_of(services["kafka"])["KAFKA_ADVERTISED_LISTENERS"]
    for name in VOTEWIRE_SERVICES:
        bootstrap = env_of(services[name])["VOTEWIRE_BOOTSTRAP"]
        assert re.search(rf"://{re.escape(bootstrap)}(,|$)", advertised), (name, bootstrap)


def test_gateway_listens_on_the_published_default_port(services: dict[str, Any]) -> None:
    gateway = services["gateway"]
    _, port = split_addr(env_of(gateway)["VOTEWIRE_GATEWAY_ADDR"], "VOTEWIRE_GATEWAY_ADDR")
    assert port == split_addr(Settings().gateway_addr, "default")[1]
    assert gateway["ports"] == [f"127.0.0.1:{port}:{port}"]


def test_worker_metrics_port_is_private_and_matches_its_addr(services: dict[str, Any]) -> None:
    worker = services["worker"]
    _, port = split_addr(env_of(worker)["VOTEWIRE_WORKER_WEB_ADDR"], "VOTEWIRE_WORKER_WEB_ADDR")
    assert port == split_addr(Settings().worker_web_addr, "default")[1]
    assert "ports" not in worker  # design rule 8
    assert [str(p) for p in worker["expose"]] == [str(port)]


def test_prometheus_scrapes_the_ports_the_services_listen_on(services: dict[str, Any]) -> None:
    config = yaml.safe_load((REPO / "deploy/prometheus/prometheus.compose.yml").read_text())
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    worker_port = split_addr(env_of(services["worker"])["VOTEWIRE_WORKER_WEB_ADDR"], "w")[1]
    gateway_port = split_addr(env_of(services["gateway"])["VOTEWIRE_GATEWAY_ADDR"], "g")[1]
    assert targets == {"votewire-worker": [f"worker:{worker_port}"], "votewire-gateway": [f"gateway:{gateway_port}"]}


def test_published_ports_bind_loopback_only(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)


def test_mounted_files_exist_and_prometheus_reads_the_mounted_config(services: dict[str, Any]) -> None:
    for name in ("prometheus", "grafana"):
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), (name, source)
    config = next(a for a in services["prometheus"]["command"] if a.startswith("--config.file="))
    assert config == "--config.file=/etc/prometheus/prometheus.compose.yml"
    home = env_of(services["grafana"])["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (REPO / "deploy/grafana/dashboards" / Path(home).name).exists()


def test_dockerfile_runs_the_votewire_command_with_its_data_dir() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["votewire"]' in dockerfile
    assert "ENV VOTEWIRE_DATA_DIR=/data" in dockerfile
    assert re.search(r"^USER (?!root)", dockerfile, re.M)


def test_grafana_dashboard_uses_the_provisioned_datasource_and_known_metrics() -> None:
    import json

    from streams import metrics

    datasource = yaml.safe_load((REPO / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    dashboard = json.loads((REPO / "deploy/grafana/dashboards/votewire.json").read_text())
    defined = set(re.findall(r'"(votewire_[a-z_]+)"', Path(metrics.__file__).read_text()))
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == uid, panel["title"]
        for target in panel["targets"]:
            for name in re.findall(r"votewire_[a-z_]+", target["expr"]):
                assert re.sub(r"_(bucket|count|sum)$", "", name) in defined, (panel["title"], name)
