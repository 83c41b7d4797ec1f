"""The boundary: the core and the service load no pipeline, kedro-mlflow, GX or matplotlib."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT

TRAINING_ONLY = [
    "great_expectations",
    "matplotlib",
    "kedro_mlflow",
    "mlflow",
    "rps_kedro.pipelines",
]
MODEL_CODE = ["sklearn", "pandas", "scipy", "exchange_calendars"]


def _loaded_after_import(module: str, packages: list[str]) -> list[str]:
    """Which of `packages` are in sys.modules after importing `module` in a fresh interpreter."""
    code = (
        f"import json, sys; import {module}; "
        f"print(json.dumps([m for m in {packages!r} if m in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "RPS_CONF_SOURCE": str(PROJECT_ROOT / "conf")},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "module", ["rps_kedro.core.model", "rps_kedro.serving.service", "rps_kedro.serving.inference"]
)
def test_serving_imports_only_the_core(module):
    assert _loaded_after_import(module, TRAINING_ONLY) == []


def test_service_definition_loads_no_model_code():
    """`bentoml serve`'s main process imports the service only to read its definition: the
    model code loads in each worker's loading thread, off the cold start's critical path."""
    assert _loaded_after_import("rps_kedro.serving.service", MODEL_CODE) == []
