"""Freshness: from a bar's close to its forecast, for N simulated symbols.

In a project copy, a champion is trained on two symbols, then the hourly data refresh fills the
history of all N symbols (untimed). The simulator then advances one hour (a new bar closes for
every symbol) and the refresh runs again, timed, twice:

- as one `kedro run --pipelines data_refresh` (one process, one Kedro session);
- as Airflow runs it: a run of `rps_kedro_data_refresh` triggered through the api-server and
  executed by the scheduler (LocalExecutor: every task a process and a Kedro session).

Latency is from the run's start (a scheduled run starts at the bar's close) to the moment the
new bar's forecast of every symbol is available: the kedro run's end, or the end of the Airflow
task that publishes the latest forecasts. The per-task overhead (process start, imports, Kedro
session) is measured apart: a `kedro run`'s wall time minus its pipeline's execution time, and
Airflow's task durations.

Writes data/08_reporting/benchmarks/freshness.json.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from benchmarks.bench_ingestion import benchmark_symbols
from benchmarks.harness import write_figures
from rps_kedro.datasets import LatestForecastsDataset
from tests.conftest import LIGHT_PARAMETERS, PROJECT_ROOT, copy_project, kedro_run
from tests.support.airflow import DAGS_FOLDER, running_airflow

SIZES = [10, 100, 1000]
GOALS = {100: 30.0, 1000: 120.0}  # seconds through Airflow
DAG_ID = "rps_kedro_data_refresh"
FORECAST_TASK = "forecast"  # the forecast namespace's task (one per shard) publishes forecasts
LATEST_FORECASTS = "data/07_model_output/latest_forecasts"
VALIDATION_RESULTS = (
    "data/08_reporting/validation"  # shard-<i>-of-<n>/validation_result.json/<version>/
)
TRAINED_AT = pd.Timestamp("2025-06-03 15:00")  # a Tuesday in the NYSE session: stocks trade
# Kedro's closing line, "Pipeline execution completed successfully in 4.5 sec." (Rich may wrap it)
EXECUTION = re.compile(r"Pipeline execution completed.*?successfully in ([\d.]+) sec", re.DOTALL)
RUN_TIMEOUT_SECONDS = 1800


def _parameters(project: Path, symbols: list[str]) -> None:
    """The light test parameters (no profile, short backtest) with these symbols."""
    parameters = yaml.safe_load(LIGHT_PARAMETERS)
    parameters["ingestion"]["symbols"] = symbols
    (project / "conf/local/parameters.yml").write_text(yaml.safe_dump(parameters))


def _run(project: Path, *arguments: str) -> tuple[float, float]:
    """`kedro run` in the project: its wall seconds and its pipeline's execution seconds."""
    started = time.perf_counter()
    result = kedro_run(project, *arguments)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"kedro run {arguments} failed:\n{result.stderr[-4000:]}")
    execution = EXECUTION.search(result.stdout + result.stderr)
    return wall, float(execution.group(1)) if execution else float("nan")


def hour_after_training(hours: int) -> str:
    """The simulator's end (its last closed bar) `hours` after the training bars end."""
    return str(TRAINED_AT + pd.Timedelta(hours=hours))


def prepared_project(workdir: Path, symbols: list[str]) -> Path:
    """A project copy with a champion (trained on two of the symbols) and every symbol's
    history up to one hour after training."""
    project = copy_project(workdir / "project")
    shutil.copytree(PROJECT_ROOT / DAGS_FOLDER, project / DAGS_FOLDER)
    _parameters(project, [symbols[0], symbols[-1]])
    _run(project, "--params", f"simulator_end={hour_after_training(0)}")
    _parameters(project, symbols)
    _run(
        project,
        "--pipelines",
        "data_refresh",
        "--params",
        f"simulator_end={hour_after_training(1)}",
    )
    return project


def forecast_bars(project: Path) -> dict[str, str]:
    """Symbol -> the bar time of its latest published forecast."""
    published = LatestForecastsDataset(str(project / LATEST_FORECASTS)).load()
    return {symbol: forecast["timestamp"] for symbol, forecast in published.items()}


def gate_results(project: Path) -> set[Path]:
    """Every gate result saved so far (one per run, or per shard of a run)."""
    return set(project.glob(f"{VALIDATION_RESULTS}/*/validation_result.json/*/*.json"))


def quarantined(results: set[Path]) -> set[str]:
    """The symbols these gate results quarantined (their forecasts are withheld)."""
    return {s for result in results for s in json.loads(result.read_text())["failed_symbols"]}


def fresh_forecasts(
    project: Path, symbols: list[str], end: str, earlier_results: set[Path]
) -> dict[str, int]:
    """Check that every symbol the timed run's gate (its results: those not in
    `earlier_results`) let through has its forecast of the bar that closed at `end`; the counts
    of forecast and quarantined symbols."""
    expected = pd.Timestamp(end, tz="UTC")
    bars = forecast_bars(project)
    held = quarantined(gate_results(project) - earlier_results)
    stale = [s for s in symbols if s not in held and pd.Timestamp(bars.get(s, 0)) != expected]
    assert not stale, f"{len(stale)} symbols without a forecast of the bar closed at {end}"
    return {"forecast_symbols": len(symbols) - len(held), "quarantined_symbols": len(held)}


def by_kedro_run(project: Path, symbols: list[str]) -> dict[str, Any]:
    """The refresh of the next bar as one `kedro run`."""
    end = hour_after_training(2)
    earlier = gate_results(project)
    wall, execution = _run(
        project, "--pipelines", "data_refresh", "--params", f"simulator_end={end}"
    )
    return fresh_forecasts(project, symbols, end, earlier) | {
        "latency_seconds": round(wall, 2),
        "pipeline_execution_seconds": execution,
        "process_and_session_seconds": round(wall - execution, 2),
    }


def _seconds(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds(), 2)


def by_airflow(project: Path, workdir: Path, symbols: list[str]) -> dict[str, Any]:
    """The refresh of the next bar as the scheduler runs the DAG (LocalExecutor)."""
    end = hour_after_training(3)
    earlier = gate_results(project)
    with running_airflow(project, workdir, scheduler=True) as airflow:
        run_id = airflow.trigger(DAG_ID, {"kedro_params": {"simulator_end": end}})
        run = airflow.wait_until_finished(DAG_ID, run_id, RUN_TIMEOUT_SECONDS)
        tasks = airflow.task_durations(DAG_ID, run_id)
    if run.state.value != "success":
        raise RuntimeError(f"{run_id}: {run.state.value} {tasks}\n{airflow.logs()}")
    forecast_end = max(
        task["end"] for name, task in tasks.items() if name.split("[")[0] == FORECAST_TASK
    )
    return fresh_forecasts(project, symbols, end, earlier) | {
        "latency_seconds": _seconds(run.queued_at, forecast_end),
        "run_seconds": _seconds(run.queued_at, run.end_date),
        "tasks": {name: task["seconds"] for name, task in sorted(tasks.items())},
        "shortest_task_seconds": min(task["seconds"] for task in tasks.values()),
    }


def measure_size(workdir: Path, count: int) -> dict[str, Any]:
    """Both ways of running the refresh for `count` simulated symbols."""
    symbols = benchmark_symbols(count)
    started = time.perf_counter()
    project = prepared_project(workdir, symbols)
    prepared = time.perf_counter() - started
    return {
        "symbols": count,
        "preparation_seconds": round(prepared, 1),
        "kedro_run": by_kedro_run(project, symbols),
        "airflow": by_airflow(project, workdir, symbols),
    }


def run(workdir: Path, sizes: list[int] = SIZES) -> dict[str, Any]:
    """Every size, each in its own project copy."""
    results = [measure_size(workdir / f"symbols-{count}", count) for count in sizes]
    met = {
        str(count): result["airflow"]["latency_seconds"] <= GOALS[count]
        for result in results
        if (count := result["symbols"]) in GOALS
    }
    return {"sizes": results, "goals_airflow_seconds": GOALS, "met": met}


def main() -> None:
    """Full size: 10, 100 and 1,000 symbols."""
    with tempfile.TemporaryDirectory(prefix="bench-freshness-") as workdir:
        write_figures("freshness", run(Path(workdir)))


if __name__ == "__main__":
    main()
