"""The Airflow DAGs: generated (never hand-edited), importable, configured by airflow.yml, and the
data-refresh DAG run end to end with dag.test() on a throwaway SQLite metadata DB."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from tests.conftest import PROJECT_ROOT, project_environment, run_command
from tests.orchestration.conftest import (
    AIRFLOW_CHECK,
    GENERATE_OPTIONS,
    KEDRO,
    committed_dags,
    project_with_dags,
)
from tests.support.airflow import DAGS_FOLDER, airflow_command, airflow_environment

SIMULATOR_END = "2025-06-01 00:00"  # a runtime parameter of the test run, never baked into a DAG


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
    result = run_command(
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
        run_command([airflow_python, AIRFLOW_CHECK, "dagbag"], project, environment, timeout=300)
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


@pytest.mark.integration
def test_data_refresh_dag_runs_end_to_end_and_writes_primary_bars_and_features(
    airflow_python, tmp_path
):
    """`dag.test()` runs every task (one Kedro session per node) in a project copy; the
    simulator's end comes from the run's `kedro_params`, as a user would trigger it."""
    project = project_with_dags(tmp_path / "project")
    environment = airflow_environment(project, tmp_path / "airflow")
    airflow_command(["db", "migrate"], project, environment)
    kedro_params = json.dumps({"simulator_end": SIMULATOR_END})
    command = [airflow_python, AIRFLOW_CHECK, "test", "rps_kedro_data_refresh", kedro_params]
    completed = run_command(command, project, environment, timeout=600)
    result = _airflow_result(completed)
    assert result["state"] == "success", completed.stdout[-6000:]
    assert set(result["tasks"].values()) == {"success"}, result["tasks"]

    bars = pd.read_parquet(project / "data/03_primary/bars")
    assert bars["timestamp"].max() == pd.Timestamp(SIMULATOR_END, tz="UTC")
    model_input = pd.read_parquet(project / "data/05_model_input/model_input")
    assert len(model_input) > 0
    assert set(model_input["symbol"]) == set(bars["symbol"])
