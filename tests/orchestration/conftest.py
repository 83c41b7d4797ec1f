"""Shared pieces of the orchestration tests: the Airflow environment (its own virtualenv), the
DAG-generation command that `make airflow-dags` runs, and project copies with their DAGs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, copy_project

# Airflow 3 lives in its own environment (orchestration/pyproject.toml, `make airflow-setup`).
AIRFLOW_PYTHON = Path(
    os.environ.get("RPS_AIRFLOW_PYTHON", PROJECT_ROOT / "orchestration/.venv/bin/python")
)
AIRFLOW_CHECK = Path(__file__).with_name("airflow_check.py")  # run by AIRFLOW_PYTHON
DAGS_FOLDER = "airflow_dags"
DAG_TEMPLATE = "orchestration/airflow_dag_template.j2"
DAG_FILE = re.compile(r"^rps_kedro_(?P<pipeline>\w+)_dag\.py$")
# `make airflow-dags` is `kedro airflow create --pipelines $(AIRFLOW_DAGS) <these> -t airflow_dags/`.
GENERATE_OPTIONS = ["--group-by", "memory", "--jinja-file", DAG_TEMPLATE]
KEDRO = Path(sys.executable).parent / "kedro"


def committed_dags() -> dict[str, Path]:
    """Pipeline name -> its committed DAG file (airflow_dags/rps_kedro_<pipeline>_dag.py)."""
    return {
        match["pipeline"]: path
        for path in sorted((PROJECT_ROOT / DAGS_FOLDER).glob("*.py"))
        if (match := DAG_FILE.match(path.name))
    }


def project_with_dags(destination: Path) -> Path:
    """A project copy (tests.conftest.copy_project) with the DAG template and committed DAGs."""
    project = copy_project(destination)
    shutil.copytree(PROJECT_ROOT / DAGS_FOLDER, project / DAGS_FOLDER)
    (project / DAG_TEMPLATE).parent.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / DAG_TEMPLATE, project / DAG_TEMPLATE)
    return project


def run(command: list, cwd: Path, env: dict, timeout: float) -> subprocess.CompletedProcess:
    """A command's completed process (text output captured, never raising on failure)."""
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def project_environment(project: Path) -> dict[str, str]:
    """The environment of a Kedro command in a project copy: its own embedded MLflow store."""
    return {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}"}


def airflow_environment(project: Path, home: Path) -> dict[str, str]:
    """Airflow with a throwaway home and SQLite metadata DB, reading the project copy's DAGs."""
    inherited = {
        k: v for k, v in project_environment(project).items() if not k.startswith("AIRFLOW")
    }
    home.mkdir(parents=True, exist_ok=True)
    return {
        **inherited,
        "PATH": f"{AIRFLOW_PYTHON.parent}{os.pathsep}{inherited.get('PATH', '')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(project / DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }


@pytest.fixture(scope="session")
def airflow_python() -> Path:
    """The Airflow environment's python; skips (fails under CI) when it is not installed."""
    if not AIRFLOW_PYTHON.exists():
        message = (
            f"Airflow environment not found at {AIRFLOW_PYTHON}: run `make airflow-setup` "
            "(uv sync --locked --project orchestration)"
        )
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must install it (make test depends on airflow-setup)")
        pytest.skip(message)
    return AIRFLOW_PYTHON
