"""Shared fixtures: no telemetry, a deterministic simulator, small real bars."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from rps_kedro.core.bars import conform_bars  # noqa: E402
from rps_kedro.datasets import SimulatedMarketDataset  # noqa: E402

SIMULATION_END = "2025-06-30 23:00"
SYMBOLS = ["AAPL", "MSFT", "BTC-USD", "ETH-USD"]
BACKFILL_HOURS = 24 * 120


@pytest.fixture
def simulator() -> SimulatedMarketDataset:
    """A seeded simulator ending at a fixed hour, with a 120-day backfill window."""
    return SimulatedMarketDataset(
        seed=7, origin="2025-01-01", end=SIMULATION_END, backfill_hours=BACKFILL_HOURS
    )


@pytest.fixture
def simulated_bars(simulator) -> pd.DataFrame:
    """120 days of bars for two stocks and two crypto pairs."""
    return conform_bars(pd.concat([simulator.fetch(symbol) for symbol in SYMBOLS]))


PROJECT_ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = [
    "pyproject.toml",
    ".telemetry",
    "src",
    "conf/base",
    "conf/live",
    "conf/logging.yml",
]


def copy_project(destination: Path) -> Path:
    """A throwaway copy of the project's configuration with empty data folders."""
    destination.mkdir(parents=True)
    for name in PROJECT_FILES:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(
                source,
                destination / name,
                ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.egg-info"),
            )
        else:
            shutil.copy(source, destination / name)
    (destination / "conf/local").mkdir()
    for layer in sorted(p.name for p in (PROJECT_ROOT / "data").iterdir() if p.is_dir()):
        (destination / "data" / layer).mkdir(parents=True)
    return destination


def run_command(
    command: list, cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess:
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


def kedro_run(project: Path, *arguments: str, **env: str) -> subprocess.CompletedProcess:
    """Run `kedro run` in a project copy with its own embedded MLflow store (and `env`)."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "kedro"), "run", *arguments],
        cwd=project,
        env={**project_environment(project), **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture
def project(tmp_path) -> Path:
    """A fresh copy of the project to run Kedro in."""
    return copy_project(tmp_path / "project")


def project_parameters(env: str = "base", **runtime_params: object) -> dict:
    """The project's parameters as Kedro resolves them (globals, runtime params, env merge)."""
    from rps_kedro.config import load_config  # noqa: PLC0415

    return load_config("parameters", PROJECT_ROOT / "conf", env, runtime_params)


@pytest.fixture(scope="session")
def parameters() -> dict:
    """All project parameters, resolved as Kedro does."""
    return project_parameters()


LIGHT_PARAMETERS = """\
ingestion:
  symbols: [AAPL, BTC-USD]
data_profile:
  enabled: false
modelling:
  backtest:
    folds: 2
  candidates:
    gradient_boosting:
      max_iter: 40
  importance:
    sample_rows: 500
    repeats: 1
"""


def write_light_parameters(project: Path) -> None:
    """Two symbols, no profiling, a short backtest: the project's behaviour at test speed."""
    (project / "conf/local/parameters.yml").write_text(LIGHT_PARAMETERS)
