"""Shared pieces of the orchestration tests: the Airflow environment (its own virtualenv), the
DAG-generation command that `make airflow-dags` runs, and project copies with their DAGs."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, copy_project
from tests.support.airflow import DAGS_FOLDER, require_airflow

AIRFLOW_CHECK = Path(__file__).with_name("airflow_check.py")  # run by the Airflow environment
DAG_TEMPLATE = "orchestration/airflow_dag_template.j2"
DAG_FILE = re.compile(r"^rps_kedro_(?P<pipeline>\w+)_dag\.py$")
# `make airflow-dags` is `kedro airflow create --pipelines $(AIRFLOW_DAGS) <these> -t airflow_dags/`.
GENERATE_OPTIONS = ["--group-by", "namespace", "--jinja-file", DAG_TEMPLATE]
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


@pytest.fixture(scope="session")
def airflow_python() -> Path:
    """The Airflow environment's python; skips (fails under CI) when it is not installed."""
    return require_airflow()
