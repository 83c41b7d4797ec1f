"""The Airflow DAGs: generated (never hand-edited), importable, configured by airflow.yml, and the
data-refresh DAG run end to end with dag.test() on a throwaway SQLite metadata DB."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from airflow_client.client import ApiClient, Configuration
from airflow_client.client.api.dag_run_api import DagRunApi

from rps_kedro.retraining.trigger import AirflowDagTrigger, AirflowToken, RetrainTrigger
from tests.conftest import PROJECT_ROOT
from tests.orchestration.conftest import (
    AIRFLOW_CHECK,
    DAGS_FOLDER,
    GENERATE_OPTIONS,
    KEDRO,
    airflow_environment,
    committed_dags,
    project_environment,
    project_with_dags,
    run,
)
from tests.retraining.test_trigger import alert, settings_for
from tests.support.servers import LOCALHOST, free_port, running_process

SIMULATOR_END = "2025-06-01 00:00"  # a runtime parameter of the test run, never baked into a DAG
AIRFLOW_PASSWORD = "test-password-not-logged"  # noqa: S105 (a throwaway Airflow's)
AIRFLOW_SETTINGS = {"dag_id": "rps_kedro_modelling", "request_timeout_seconds": 10}


def _airflow_result(completed) -> dict:
    """The JSON that airflow_check.py prints on its `RESULT` line."""
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, (
        f"no result from airflow_check.py:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    )
    return json.loads(lines[-1].removeprefix("RESULT "))


def _dag_config(pipeline: str) -> dict:
    """What kedro-airflow merges for a pipeline: `default:` then the pipeline's own key."""
    config = yaml.safe_load((PROJECT_ROOT / "conf/base/airflow.yml").read_text())
    return {**config.get("default", {}), **config.get(pipeline, {})}


def test_the_data_refresh_dag_is_committed():
    assert "data_refresh" in committed_dags(), "run `make airflow-dags` and commit airflow_dags/"


def test_committed_dags_are_exactly_what_kedro_airflow_generates(tmp_path):
    """Regenerate every committed DAG into a temporary folder: the files must be byte-identical."""
    committed = committed_dags()
    project = project_with_dags(tmp_path / "project")
    generated = tmp_path / "generated"
    result = run(
        [KEDRO, "airflow", "create", "--pipelines", ",".join(committed), *GENERATE_OPTIONS]
        + ["--target-dir", generated],
        cwd=project,
        env=project_environment(project),
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert sorted(p.name for p in generated.iterdir()) == sorted(p.name for p in committed.values())
    for pipeline, path in committed.items():
        assert (generated / path.name).read_bytes() == path.read_bytes(), (
            f"{DAGS_FOLDER}/{path.name} is out of date for pipeline {pipeline}: "
            "run `make airflow-dags` and commit the result (never edit it by hand)"
        )


def test_dagbag_imports_every_dag_with_the_configured_schedule_retries_and_timeouts(
    airflow_python, tmp_path
):
    project = project_with_dags(tmp_path / "project")
    environment = airflow_environment(project, tmp_path / "airflow")
    result = _airflow_result(
        run([airflow_python, AIRFLOW_CHECK, "dagbag"], project, environment, timeout=300)
    )
    assert result["import_errors"] == {}
    assert sorted(result["dags"]) == sorted(f"rps_kedro_{name}" for name in committed_dags())
    for pipeline in committed_dags():
        dag, config = result["dags"][f"rps_kedro_{pipeline}"], _dag_config(pipeline)
        assert dag["schedule"] == config["schedule"]
        assert dag["max_active_runs"] == config["max_active_runs"]
        assert dag["catchup"] is config["catchup"]
        assert dag["dagrun_timeout"] == config["dagrun_timeout"] * 60
        assert set(dag["retries"].values()) == {config["retries"]}
        assert set(dag["execution_timeout"].values()) == {config["execution_timeout"] * 60}


@pytest.fixture(scope="module")
def migrated_airflow(airflow_python, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A project copy with its DAGs and an Airflow home whose SQLite metadata DB is migrated."""
    root = tmp_path_factory.mktemp("airflow-project")
    project = project_with_dags(root / "project")
    environment = airflow_environment(project, root / "airflow")
    migrate = run([airflow_python.parent / "airflow", "db", "migrate"], project, environment, 300)
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
    return project, environment


@pytest.mark.integration
def test_data_refresh_dag_runs_end_to_end_and_writes_primary_bars_and_features(
    airflow_python, migrated_airflow
):
    """`dag.test()` runs every task (one Kedro session per node) in a project copy; the
    simulator's end comes from the run's `kedro_params`, as a user would trigger it."""
    project, environment = migrated_airflow
    kedro_params = json.dumps({"simulator_end": SIMULATOR_END})
    command = [airflow_python, AIRFLOW_CHECK, "test", "rps_kedro_data_refresh", kedro_params]
    completed = run(command, project, environment, timeout=600)
    result = _airflow_result(completed)
    assert result["state"] == "success", completed.stdout[-6000:]
    assert set(result["tasks"].values()) == {"success"}, result["tasks"]

    bars = pd.read_parquet(project / "data/03_primary/bars.parquet")
    assert bars["timestamp"].max() == pd.Timestamp(SIMULATOR_END, tz="UTC")
    model_input = pd.read_parquet(project / "data/05_model_input/model_input.parquet")
    assert len(model_input) > 0
    assert set(model_input["symbol"]) == set(bars["symbol"])


@pytest.mark.integration
def test_the_retrain_trigger_starts_the_modelling_dag_through_the_real_api_server(
    airflow_python, migrated_airflow, tmp_path
):
    """The retrain trigger against `airflow api-server` (simple auth manager): a token from
    /auth/token, a run of rps_kedro_modelling with the alert in its conf (read back through
    the API), an unknown DAG refused."""
    project, environment = migrated_airflow
    airflow = airflow_python.parent / "airflow"
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({"admin": AIRFLOW_PASSWORD}))
    environment = {
        **environment,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
    }
    reserialize = run([airflow, "dags", "reserialize"], project, environment, 300)
    assert reserialize.returncode == 0, reserialize.stderr[-3000:]
    port = free_port()
    argv = [str(airflow), "api-server", "--host", LOCALHOST, "--port", str(port)]
    with running_process(
        "airflow-api-server",
        argv,
        url=f"http://{LOCALHOST}:{port}",
        ready_path="/api/v2/monitor/health",
        log_dir=tmp_path,
        env=environment,
        cwd=project,
        timeout=240,
    ) as server:
        token = AirflowToken(server.url, username="admin", password=AIRFLOW_PASSWORD)
        settings = settings_for(server.url)
        trigger = RetrainTrigger(settings, AirflowDagTrigger(settings, token), sleep=lambda _: None)
        assert trigger.handle(alert()) == "triggered"
        [run_id] = trigger.episodes.values()
        with ApiClient(Configuration(host=server.url, access_token=token())) as client:
            started = DagRunApi(client).get_dag_run("rps_kedro_modelling", run_id)
        assert started.conf["alert"]["alertname"] == "RpsDriftRatioHigh"
        assert started.conf["alert"]["fingerprint"] == "a1b2"
        assert started.triggered_by.value == "rest_api"

        airflow_settings = {**AIRFLOW_SETTINGS, "url": server.url, "dag_id": "no_such_dag"}
        unknown = settings_for(server.url, airflow=airflow_settings)
        refused = RetrainTrigger(unknown, AirflowDagTrigger(unknown, token))
        assert refused.handle(alert(fingerprint="c3d4")) == "rejected"
    assert AIRFLOW_PASSWORD not in server.log_path.read_text()
