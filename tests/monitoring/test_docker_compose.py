"""monitoring/docker-compose.yml, checked statically: there is no Docker engine here.

The structure test reads the file with PyYAML and checks that the services reach each other under
the names the compose configs use, that every service has a healthcheck and every mounted file
exists. `docker compose config` (or docker-compose v1) validates it against the Compose schema
when a client is installed; neither needs an engine for that.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

from tests.support.servers import MONITORING_DIR
from tools.alert_receiver import parse_args

COMPOSE_FILE = MONITORING_DIR / "docker-compose.yml"
SERVICES = {
    "rps-service",
    "mlflow",
    "prometheus",
    "alertmanager",
    "alert-receiver",
    "pushgateway",
    "grafana",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def compose_client() -> list[str] | None:
    """`docker compose` (v2 plugin) or `docker-compose` (v1, Debian's docker-compose package)."""
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def bind_mounts(service: dict) -> list[tuple[Path, str]]:
    mounts = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            mounts.append(((MONITORING_DIR / source).resolve(), target))
    return mounts


def test_the_stack_has_every_service_with_a_healthcheck(compose):
    assert set(compose["services"]) == SERVICES
    for name, service in compose["services"].items():
        check = service.get("healthcheck")
        assert check and check["test"][0] == "CMD", f"{name}: no healthcheck"
        assert {"interval", "timeout", "retries"} <= set(check), name
        assert service.get("image"), f"{name}: no image"


def test_ports_are_published_on_localhost_only(compose):
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name}: {port}"


def test_startup_order_waits_for_health_but_never_on_the_service(compose):
    services = compose["services"]
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, name
            assert condition["condition"] == "service_healthy", name
    # Prometheus must run, and alert, while the service is down.
    assert "rps-service" not in services["prometheus"].get("depends_on", {})


def test_every_mounted_file_exists(compose):
    for name, service in compose["services"].items():
        for source, target in bind_mounts(service):
            if target in ("/alerts", "/project"):  # written by the stack; created by compose
                assert source.parent.is_dir(), f"{name}: {source}"
            else:
                assert source.exists(), f"{name}: {source} (mounted at {target})"


def test_the_services_are_wired_under_the_names_the_configs_use(compose):
    services = compose["services"]
    prometheus_config = yaml.safe_load((MONITORING_DIR / "compose/prometheus.yml").read_text())
    targets = {
        target
        for job in prometheus_config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    targets |= {
        target
        for manager in prometheus_config["alerting"]["alertmanagers"]
        for static in manager["static_configs"]
        for target in static["targets"]
    }
    assert targets == {
        "rps-service:3000",
        "prometheus:9090",
        "alertmanager:9093",
        "pushgateway:9091",
    }
    assert {t.split(":")[0] for t in targets} <= set(services)

    # Prometheus reads compose/prometheus.yml through the monitoring/ mount.
    command = services["prometheus"]["command"]
    assert "--config.file=/etc/prometheus/compose/prometheus.yml" in command
    assert ".:/etc/prometheus:ro" in services["prometheus"]["volumes"]

    # Alertmanager reads compose/alertmanager.yml, whose webhook is the receiver service.
    mounts = {target: source for source, target in bind_mounts(services["alertmanager"])}
    compose_am = MONITORING_DIR / "compose/alertmanager.yml"
    assert mounts["/etc/alertmanager/alertmanager.yml"] == compose_am
    am_config = yaml.safe_load(compose_am.read_text())
    webhook = am_config["receivers"][0]["webhook_configs"][0]["url"]
    receiver_args = parse_args(services["alert-receiver"]["command"][2:])
    assert webhook == f"http://alert-receiver:{receiver_args.port}/alerts"
    assert receiver_args.output == Path("/alerts/alerts.jsonl")

    # Grafana's provisioned datasource URL comes from PROMETHEUS_URL.
    assert services["grafana"]["environment"]["PROMETHEUS_URL"] == "http://prometheus:9090"


def test_mlflow_image_matches_the_locked_mlflow(compose):
    image = compose["services"]["mlflow"]["image"]
    assert image == f"ghcr.io/mlflow/mlflow:v{version('mlflow')}"


def test_compose_client_validates_the_file():
    client = compose_client()
    if client is None:
        pytest.skip(
            "no Compose client (`docker compose` plugin, or Debian's docker-compose package): "
            "the schema validation is skipped; the structure tests above still ran"
        )
    result = subprocess.run(
        [*client, "-f", str(COMPOSE_FILE), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "RPS_SERVICE_IMAGE"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert set(resolved["services"]) == SERVICES
    assert resolved["services"]["rps-service"]["image"] == "rps-kedro-service:latest"
