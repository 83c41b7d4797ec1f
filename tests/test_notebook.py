"""The exploration notebook is stored without outputs and runs, with the README's command, on a
freshly refreshed project."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

from tests.conftest import PROJECT_ROOT, copy_project, kedro_run, run_command

NOTEBOOK = PROJECT_ROOT / "notebooks" / "exploration.ipynb"


def test_notebook_is_stored_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells
    assert "%load_ext kedro.ipython" in "\n".join(cell.source for cell in code_cells)
    dirty = [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"cells {dirty} have outputs: clear them before committing"


@pytest.mark.integration
def test_notebook_runs_on_a_refreshed_project(tmp_path):
    project = copy_project(tmp_path / "project")
    shutil.copytree(
        PROJECT_ROOT / "notebooks",
        project / "notebooks",
        ignore=shutil.ignore_patterns(".ipynb_checkpoints"),
    )
    refresh = kedro_run(
        project,
        "--pipelines",
        "data_refresh",
        "--params",
        "simulator_end=2025-06-01 00:00,data_profile.enabled=false",
    )
    assert refresh.returncode == 0, refresh.stderr[-3000:]

    # The README's command, on the copy (--inplace keeps the outputs in the copy's notebook); the
    # kernel inherits this environment: the copy is the project, with its own MLflow store.
    path = project / "notebooks" / "exploration.ipynb"
    environment = {
        **os.environ,
        "RPS_PROJECT_PATH": str(project),
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
    }
    jupyter = Path(sys.executable).parent / "jupyter"
    executed = run_command([jupyter, "execute", "--inplace", path], project, environment, 300)
    assert executed.returncode == 0, executed.stderr[-4000:]
    notebook = nbformat.read(path, as_version=4)
    outputs = [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]
    assert not [output for output in outputs if output.output_type == "error"]
    images = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(images) >= 4, "bars, features, targets and validation plots"
