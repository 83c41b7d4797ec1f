"""Full default pipeline benchmark: each stage as its own `kedro run` in a project copy, timed,
with the peak resident memory of that process (os.wait4), and the cost curve: the same for 100,
300 and 1,000 simulated symbols x 2 years, with the fitted growth exponent of time and memory
(log-log least squares: 1 is linear in the number of symbols)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory, TemporaryFile
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.bench_ingestion import benchmark_symbols
from benchmarks.harness import write_figures
from tests.conftest import copy_project

STAGES = ["ingestion", "validation", "features", "modelling"]
END = pd.Timestamp("2026-01-01 00:00")
CURVE_SIZES = [100, 300, 1000]
CURVE_YEARS = 2
LONGEST_NODES = 5  # per stage, the nodes that took longest (NodeTimingHook's log lines)
NODE_DONE = re.compile(r"node (\S+): done in ([\d.]+) s")
CURVE_GOALS = {"wall_seconds": 15 * 60, "peak_rss_mib": 8 * 1024, "wall_exponent": 1.0}


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
    # Its log goes to a file: a pipe read only after the process ends fills up (64 KiB: a
    # 1,000-symbol run's lines) and blocks the run for ever.
    with TemporaryFile() as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=project, env=environment, stdout=subprocess.DEVNULL, stderr=log
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        log.seek(0)
        output = log.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"kedro run --pipelines {pipeline} failed: {output[-3000:]}")
    return {
        "wall_seconds": round(wall, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "longest_nodes": longest_nodes(output),
    }


def longest_nodes(log: str) -> dict[str, float]:
    """The nodes that took longest, with their seconds, from a run's log."""
    durations = {name: float(seconds) for name, seconds in NODE_DONE.findall(log)}
    ranked = sorted(durations.items(), key=lambda item: -item[1])
    return dict(ranked[:LONGEST_NODES])


def run(symbol_count: int, years: int) -> dict[str, Any]:
    """Run every stage of the default pipeline once, in order, on a fresh project copy."""
    symbols = ["BTC-USD"] if symbol_count == 1 else benchmark_symbols(symbol_count)
    with TemporaryDirectory() as tmp:
        project = copy_project(Path(tmp) / "project")
        _configure(project, symbols, years)
        stages = {stage: _timed_kedro_run(project, stage) for stage in STAGES}
        rows = len(pd.read_pickle(project / "data/02_intermediate/merged_bars/shard-0-of-1.pkl"))
    return {
        "symbols": len(symbols),
        "years": years,
        "bars": rows,
        "total_wall_seconds": round(sum(s["wall_seconds"] for s in stages.values()), 2),
        "peak_rss_mib": max(s["peak_rss_mib"] for s in stages.values()),
        "stages": stages,
    }


def growth_exponent(sizes: list[int], values: list[float]) -> float:
    """The slope of log(value) on log(size): how a cost grows with the number of symbols."""
    slope, _ = np.polyfit(np.log(sizes), np.log(values), 1)
    return round(float(slope), 3)


def cost_curve(sizes: list[int] = CURVE_SIZES, years: int = CURVE_YEARS) -> dict[str, Any]:
    """The whole pipeline at each size; per stage and in total, time and memory exponents."""
    return curve_of([run(count, years) for count in sizes])


def curve_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The runs (`run` at growing sizes) with the fitted exponents and the goals met by the
    largest."""
    sizes = [r["symbols"] for r in runs]
    exponents = {
        "total_wall_seconds": growth_exponent(sizes, [r["total_wall_seconds"] for r in runs]),
        "peak_rss_mib": growth_exponent(sizes, [r["peak_rss_mib"] for r in runs]),
        **{
            f"{stage}.wall_seconds": growth_exponent(
                sizes, [r["stages"][stage]["wall_seconds"] for r in runs]
            )
            for stage in STAGES
        },
    }
    largest = runs[-1]
    met = {
        "wall_seconds": largest["total_wall_seconds"] <= CURVE_GOALS["wall_seconds"],
        "peak_rss_mib": largest["peak_rss_mib"] <= CURVE_GOALS["peak_rss_mib"],
        "wall_exponent": exponents["total_wall_seconds"] <= CURVE_GOALS["wall_exponent"],
    }
    return {"runs": runs, "exponents": exponents, "goals": CURVE_GOALS, "met": met}


def main() -> None:
    """The two sizes of the modelling issue, then the cost curve."""
    write_figures(
        "pipeline",
        {
            "1_symbol_1_year": run(1, 1),
            "20_symbols_2_years": run(20, 2),
            "cost_curve": cost_curve(),
        },
    )
