"""Privacy by default: no tool the project runs sends usage analytics, whatever the entry point
(not only `make`, whose environment also declines them)."""

import os
import subprocess
import sys
from pathlib import Path

import yaml

from rps_kedro import TELEMETRY_OPT_OUT
from tests.conftest import PROJECT_ROOT

BIN = Path(sys.executable).parent
TELEMETRY_VARIABLES = {*TELEMETRY_OPT_OUT, "DO_NOT_TRACK"}


def clean_environment() -> dict[str, str]:
    """The environment of a user who never heard of these variables."""
    return {k: v for k, v in os.environ.items() if k not in TELEMETRY_VARIABLES}


def test_kedros_consent_is_committed_as_declined():
    assert yaml.safe_load((PROJECT_ROOT / ".telemetry").read_text()) == {"consent": False}
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".telemetry"], cwd=PROJECT_ROOT, check=False
    )
    assert ignored.returncode == 1, ".telemetry must be committed, not git-ignored"


def test_importing_the_project_declines_every_tools_analytics():
    script = "import os, rps_kedro; print({k: os.environ[k] for k in rps_kedro.TELEMETRY_OPT_OUT})"
    result = subprocess.run(
        [str(BIN / "python"), "-c", script],
        env=clean_environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert eval(result.stdout) == TELEMETRY_OPT_OUT  # noqa: S307 (our own dict's repr)


def test_kedro_outside_make_does_not_ask_or_send(project):
    result = subprocess.run(
        [str(BIN / "kedro"), "registry", "list"],
        cwd=project,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert "data_refresh" in output
    assert "anonymous usage" not in output.lower()
