"""`kedro viz` sees every stage as a collapsible group, with the quality gate as two nodes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_kedro_viz_builds_the_default_pipeline_with_both_gate_nodes(project):
    result = subprocess.run(
        [str(Path(sys.executable).parent / "kedro"), "viz", "build"],
        cwd=project,
        env={**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    graph = json.loads((project / "build/api/main").read_text())
    names = {node["name"] for node in graph["nodes"] if node["type"] == "task"}
    assert {
        "fetch_new_bars",
        "check_bars_quality",
        "enforce_quality_gate",
        "build_model_input",
    } <= names
    assert {"select_and_fit", "walk_forward_backtest", "decide_promotion"} <= names
    # one collapsible group per stage (the stages' Kedro namespaces)
    stages = {"ingestion", "validation", "features", "training", "promotion", "reporting"}
    assert stages <= set(graph["modular_pipelines"])
    top = [node for node in graph["nodes"] if node["type"] == "modularPipeline"]
    assert stages <= {node["id"] for node in top}
    assert {"id": "reporting", "name": "reporting"} in graph["tags"]
