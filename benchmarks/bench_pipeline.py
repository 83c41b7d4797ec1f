"""Full default pipeline benchmark: each stage as its own `kedro run` in a project copy, timed,
with the peak resident memory of that process (os.wait4)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pandas as pd

from benchmarks.bench_ingestion import benchmark_symbols
from benchmarks.harness import write_figures
from tests.conftest import copy_project

STAGES = ["ingestion", "validation", "features", "modelling"]
END = pd.Timestamp("2026-01-01 00:00")


def _configure(project: Path, symbols: list[str], years: int) -> None:
    """Pin the simulated market: these symbols, `years` of hourly history ending at END."""
    hours = int((END - (END - pd.DateOffset(years=years))) / pd.Timedelta(hours=1))
    origin = (END - pd.DateOffset(years=years)).strftime("%Y-%m-%d")
    (project / "conf/local/parameters.yml").write_text(f"ingestion:\n  symbols: {symbols}\n")
    (project / "conf/local/catalog.yml").write_text(
        "market_source:\n"
        "  type: rps_kedro.datasets.SimulatedMarketDataset\n"
        f"  seed: 1\n  origin: '{origin}'\n  end: '{END}'\n  backfill_hours: {hours}\n"
    )


def _timed_kedro_run(project: Path, pipeline: str) -> dict[str, float]:
    """Wall seconds and peak RSS (MiB) of one `kedro run --pipelines <pipeline>` process."""
    environment = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}"}
    command = [str(Path(sys.executable).parent / "kedro"), "run", "--pipelines", pipeline]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=project, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(
            f"kedro run --pipelines {pipeline} failed: {process.stderr.read().decode()[-3000:]}"
        )
    return {"wall_seconds": round(wall, 2), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1)}


def run(symbol_count: int, years: int) -> dict[str, Any]:
    """Run every stage of the default pipeline once, in order, on a fresh project copy."""
    symbols = ["BTC-USD"] if symbol_count == 1 else benchmark_symbols(symbol_count)
    with TemporaryDirectory() as tmp:
        project = copy_project(Path(tmp) / "project")
        _configure(project, symbols, years)
        stages = {stage: _timed_kedro_run(project, stage) for stage in STAGES}
        rows = len(pd.read_pickle(project / "data/02_intermediate/merged_bars.pkl"))
    return {
        "symbols": len(symbols),
        "years": years,
        "bars": rows,
        "total_wall_seconds": round(sum(s["wall_seconds"] for s in stages.values()), 2),
        "peak_rss_mib": max(s["peak_rss_mib"] for s in stages.values()),
        "stages": stages,
    }


def main() -> None:
    """The two sizes of the modelling issue."""
    write_figures("pipeline", {"1_symbol_1_year": run(1, 1), "20_symbols_2_years": run(20, 2)})
