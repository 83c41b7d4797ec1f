"""monitoring/docker-compose.yml and orchestration/Dockerfile, checked statically: there is no
Docker engine here.

The structure test reads the file with PyYAML and checks that the services reach each other under
the names the compose configs use, that every service has a healthcheck and every mounted file
exists, and that the Airflow services share the CeleryExecutor settings the tests run with
(tests/support/airflow.py) and an image built from the locked Airflow. `docker compose config`
(or docker-compose v1) validates it against the Compose schema when a client is installed;
neither needs an engine for that.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

from tests.support.airflow import CeleryBackends
from tests.support.servers import MONITORING_DIR, PROJECT_ROOT
from tools.alert_receiver import parse_args

COMPOSE_FILE = MONITORING_DIR / "docker-compose.yml"
AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-api-server",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker-1",
    "airflow-worker-2",
}
SERVICES = {
    "rps-service",
    "mlflow",
    "prometheus",
    "alertmanager",
    "alert-receiver",
    "pushgateway",
    "grafana",
    "postgres",
    "redis",
    *AIRFLOW_SERVICES,
}
ONE_SHOT = {"airflow-init"}  # runs to completion; the others wait for it, not for its health
WRITTEN_BY_THE_STACK = {"/alerts", "/project", "/project/data", "/project/mlruns"}
SECRETS = {  # Airflow's secrets: from the environment, with a default for a local stack only
    "AIRFLOW__API_AUTH__JWT_SECRET": "AIRFLOW_JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY": "AIRFLOW_API_SECRET_KEY",
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
        assert service.get("image"), f"{name}: no image"
        if name in ONE_SHOT:
            assert service["restart"] == "no" and "healthcheck" not in service, name
            continue
        check = service.get("healthcheck")
        assert check and check["test"][0] == "CMD", f"{name}: no healthcheck"
        assert {"interval", "timeout", "retries"} <= set(check), name


def test_ports_are_published_on_localhost_only(compose):
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name}: {port}"


def test_startup_order_waits_for_health_but_never_on_the_service(compose):
    services = compose["services"]
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, name
            expected = (
                "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            )
            assert condition["condition"] == expected, f"{name} -> {dependency}"
    # Prometheus must run, and alert, while the service is down.
    assert "rps-service" not in services["prometheus"].get("depends_on", {})


def test_every_mounted_file_exists(compose):
    for name, service in compose["services"].items():
        for source, target in bind_mounts(service):
            if target in WRITTEN_BY_THE_STACK:  # created by compose when missing
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


def airflow_services(compose: dict) -> dict[str, dict]:
    return {name: compose["services"][name] for name in sorted(AIRFLOW_SERVICES)}


def test_every_airflow_component_shares_the_tested_celery_settings(compose):
    common = compose["x-airflow-common"]
    environment = common["environment"]
    # The settings tests/orchestration/test_celery_workers.py runs with, on the compose services.
    backends = CeleryBackends(
        broker_url=environment["AIRFLOW__CELERY__BROKER_URL"],
        database_url=environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"],
    )
    tested = backends.settings()
    assert tested["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert backends.broker_url.startswith("redis://redis:6379/")
    assert backends.database_url.startswith("postgresql+psycopg2://airflow:")
    assert backends.database_url.endswith("@postgres:5432/airflow")
    api_url = environment["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
    assert api_url == "http://airflow-api-server:8080/execution/"
    assert "127.0.0.1:8080:8080" in compose["services"]["airflow-api-server"]["ports"]
    for name, service in airflow_services(compose).items():
        assert tested.items() <= service["environment"].items(), name
        for setting in (*SECRETS, "AIRFLOW__CORE__EXECUTION_API_SERVER_URL"):
            assert service["environment"][setting] == environment[setting], f"{name}: {setting}"
        for key in ("image", "build", "user", "volumes"):
            assert service[key] == common[key], f"{name}: {key}"
        assert service["environment"]["MLFLOW_TRACKING_URI"] == "http://mlflow:5000", name
    assert compose["services"]["airflow-init"]["command"] == ["db", "migrate"]


def test_airflow_secrets_come_from_the_environment(compose):
    environment = compose["x-airflow-common"]["environment"]
    for setting, variable in SECRETS.items():
        assert environment[setting].startswith(f"${{{variable}:-"), setting
    password = "${AIRFLOW_POSTGRES_PASSWORD:-"
    assert compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith(password)
    assert f"airflow:{password}" in environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    api_server = compose["services"]["airflow-api-server"]
    assert api_server["environment"]["AIRFLOW_ADMIN_PASSWORD"].startswith(
        "${AIRFLOW_ADMIN_PASSWORD:-"
    )
    # Only the api-server sees the admin's password, and writes the simple auth manager's file.
    assert "AIRFLOW_ADMIN_PASSWORD" not in environment
    assert "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" in api_server["command"][-1]


def test_two_celery_workers_each_checked_under_its_own_name(compose):
    workers = {
        name: service
        for name, service in compose["services"].items()
        if service.get("command") == ["celery", "worker"]
    }
    assert len(workers) == 2
    for name, service in workers.items():
        assert service["hostname"] == name
        assert service["healthcheck"]["test"][-1] == f"celery@{name}"
        assert service["depends_on"]["airflow-api-server"]["condition"] == "service_healthy"


def locked_version(lock: Path, package: str) -> str:
    packages = tomllib.loads(lock.read_text())["package"]
    return next(entry["version"] for entry in packages if entry["name"] == package)


def dockerignore_keeps(path: str, patterns: list[str]) -> bool:
    """Whether the build context keeps `path` (relative, /-separated): the last .dockerignore
    pattern matching it or one of its parent folders decides; `!` re-includes."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    kept = True
    for pattern in patterns:
        include = pattern.startswith("!")
        glob = pattern.removeprefix("!").rstrip("/")
        if any(fnmatch.fnmatchcase(candidate, glob) for candidate in candidates):
            kept = include
    return kept


def test_the_airflow_image_is_built_from_the_locked_airflow_with_the_project(compose):
    build = compose["x-airflow-common"]["build"]
    context = (MONITORING_DIR / build["context"]).resolve()
    assert context == PROJECT_ROOT
    dockerfile = context / build["dockerfile"]
    assert dockerfile == PROJECT_ROOT / "orchestration/Dockerfile"
    text = dockerfile.read_text()

    base = re.findall(r"^FROM (\S+)", text, re.MULTILINE)[-1]
    airflow = locked_version(PROJECT_ROOT / "orchestration/uv.lock", "apache-airflow")
    orchestration = tomllib.loads((PROJECT_ROOT / "orchestration/pyproject.toml").read_text())
    assert orchestration["project"]["requires-python"].startswith(">=3.11,<3.12")
    assert base == f"apache/airflow:{airflow}-python3.11"
    assert "uv export --project orchestration --frozen" in text
    assert "RPS_KEDRO_PROJECT_PATH=/project" in text
    assert "AIRFLOW__CORE__DAGS_FOLDER=/project/airflow_dags" in text

    # Everything copied from the context exists and is kept by .dockerignore; what is local
    # (credentials, data, stores, virtualenvs) is not.
    patterns = [
        line.strip()
        for line in (context / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = [
        source
        for line in re.findall(r"^COPY (?!--from)(.+)$", text, re.MULTILINE)
        for source in line.split()[:-1]
        if not source.startswith("--")
    ]
    assert {"src/", "conf/", "airflow_dags/", "orchestration/uv.lock"} <= set(copied)
    for source in copied:
        assert (context / source).exists(), source
        assert dockerignore_keeps(source.rstrip("/"), patterns), source
    for local in ("conf/local/credentials.yml", "data/01_raw/x.csv", "mlflow.db", ".venv"):
        assert not dockerignore_keeps(local, patterns), local
    assert dockerignore_keeps("conf/local/.gitkeep", patterns)  # Kedro's `local` env exists


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
        env={
            k: v
            for k, v in os.environ.items()
            if k not in ("RPS_SERVICE_IMAGE", "RPS_AIRFLOW_IMAGE")
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert set(resolved["services"]) == SERVICES
    assert resolved["services"]["rps-service"]["image"] == "rps-kedro-service:latest"
    worker = resolved["services"]["airflow-worker-1"]
    assert worker["image"] == "rps-kedro-airflow:latest"
    assert worker["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
