"""Data refresh benchmark: the validation gate, the features and the data profile on N symbols x
Y years of hourly bars, with the project's parameters; cProfile says what dominates."""

from __future__ import annotations

import cProfile
import importlib
import pstats
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.bench_ingestion import benchmark_symbols
from benchmarks.harness import measure, write_figures
from rps_kedro.config import load_config
from rps_kedro.core.bars import conform_bars, empty_bars
from rps_kedro.core.features import required_lookback
from rps_kedro.datasets import SimulatedMarketDataset
from rps_kedro.pipelines.features.nodes import (
    build_model_input,
    drop_warming_up_symbols,
    profile_model_input,
)
from rps_kedro.pipelines.validation.nodes import check_bars_quality

PROJECT_ROOT = Path(__file__).resolve().parents[1]
END = pd.Timestamp("2026-01-01 00:00")
GOAL = {"features_wall_seconds": 15, "features_peak_memory_mib": 3 * 1024}
TOP_FUNCTIONS = 8


def project_parameters() -> dict[str, Any]:
    """conf/base parameters as `kedro run` resolves them (globals; runtime params at defaults)."""
    return load_config("parameters", PROJECT_ROOT / "conf", "base")


def simulate_bars(symbols: list[str], origin: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Merged-bars-like input: every symbol's hourly bars from origin to end, sorted."""
    hours = int((end - origin) / pd.Timedelta(hours=1))
    source = SimulatedMarketDataset(seed=1, origin=str(origin), end=str(end), backfill_hours=hours)
    return conform_bars(pd.concat([source.fetch(symbol) for symbol in symbols], ignore_index=True))


def _function_name(key: tuple[str, int, str]) -> str:
    """`package/module.py:line(function)`, or the builtin's name."""
    filename, line, name = key
    if filename == "~":
        return name
    for marker in ("site-packages/", "src/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            break
    return f"{filename}:{line}({name})"


def profile_hotspots(function: Callable[[], Any], top: int = TOP_FUNCTIONS) -> dict[str, Any]:
    """Run once under cProfile: the project's functions by cumulative time, all by self time."""
    profiler = cProfile.Profile()
    profiler.runcall(function)
    stats = pstats.Stats(profiler).stats  # {(file, line, name): (cc, calls, self, cumulative, _)}
    rows = [
        {
            "function": _function_name(key),
            "cumulative_seconds": round(cumulative, 3),
            "self_seconds": round(own, 3),
            "calls": calls,
        }
        for key, (_, calls, own, cumulative, _) in stats.items()
    ]
    project = [row for row in rows if row["function"].startswith("rps_kedro/")]
    return {
        "profiled_wall_seconds": round(max(row["cumulative_seconds"] for row in rows), 3),
        "project_functions_by_cumulative_time": sorted(
            project, key=lambda row: row["cumulative_seconds"], reverse=True
        )[:top],
        "functions_by_self_time": sorted(rows, key=lambda row: row["self_seconds"], reverse=True)[
            :top
        ],
    }


def _peak_rss_mib(reset: bool = False) -> float | None:
    """The process's peak resident memory (Linux VmHWM), optionally reset first; None elsewhere."""
    try:
        if reset:
            Path("/proc/self/clear_refs").write_text("5")
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return round(int(kib) / 1024, 1)


def measure_step(function: Callable[[], Any], repeats: int = 1) -> tuple[Any, dict[str, Any]]:
    """Best wall time of `repeats` plain runs, then peak traced memory of one more run.

    tracemalloc (`harness.measure`) slows Python-heavy code (GX, ydata-profiling) several-fold,
    so wall time comes from untraced runs; the traced run's time is kept as
    `traced_wall_seconds`. The best of a few runs damps noise from other processes. The
    process's peak RSS during the first run (inputs and imports included) is `process_peak_rss_mib`.
    """
    walls, rss = [], None
    _peak_rss_mib(reset=True)
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        walls.append(round(time.perf_counter() - started, 3))
        rss = rss or _peak_rss_mib()  # after the first run
    result, traced = measure(function)
    return result, {
        "wall_seconds": min(walls),
        "wall_seconds_runs": walls,
        "peak_memory_mib": traced["peak_memory_mib"],
        "traced_wall_seconds": traced["wall_seconds"],
        "process_peak_rss_mib": rss,
    }


def _throughput(figures: dict[str, float], rows: int) -> dict[str, Any]:
    return {**figures, "rows": rows, "rows_per_second": round(rows / figures["wall_seconds"])}


def run(
    symbol_count: int = 100,
    years: int = 2,
    days: int | None = None,
    data_profile: dict[str, Any] | None = None,
    repeats: int = 2,
) -> dict[str, Any]:
    """Simulate `years` (or `days`) of hourly bars for `symbol_count` symbols, then measure the
    validation node (a first run judging every bar, and an hourly run judging the last hour), the
    features node and the profile node (`data_profile` overrides its
    parameters), each on the previous one's input as in `kedro run`; wall times are the best of
    `repeats` runs."""
    origin = END - (pd.Timedelta(days=days) if days is not None else pd.DateOffset(years=years))
    symbols = benchmark_symbols(symbol_count)
    params = project_parameters()
    profile_params = {**params["data_profile"], **(data_profile or {})}
    started = time.perf_counter()
    bars = simulate_bars(symbols, origin, END)
    simulation_seconds = time.perf_counter() - started

    validation_params = {**params["validation"], "as_of": None}
    newest = bars["timestamp"].max()
    history = bars[bars["timestamp"] < newest].reset_index(drop=True)

    def first_run() -> tuple:
        return check_bars_quality(empty_bars(), bars, symbols, validation_params)

    (result, _, _), validation = measure_step(first_run, repeats)
    _, hourly_validation = measure_step(
        lambda: check_bars_quality(history, bars, symbols, validation_params), repeats
    )
    model_input, features = measure_step(
        lambda: build_model_input(bars, params["features"]), repeats
    )
    started = time.perf_counter()
    importlib.import_module("ydata_profiling")  # once per process, inside the node's first call
    profile_import_seconds = time.perf_counter() - started
    _, profile = measure_step(lambda: profile_model_input(model_input, profile_params), repeats)

    validation_hotspots = profile_hotspots(first_run)
    features_hotspots = profile_hotspots(lambda: build_model_input(bars, params["features"]))
    return {
        "symbols": symbol_count,
        "years": years if days is None else round(days / 365.25, 3),
        "bars": {
            "rows": len(bars),
            "first": str(bars["timestamp"].min()),
            "last": str(bars["timestamp"].max()),
            "memory_mib": round(bars.memory_usage(deep=True).sum() / 2**20, 1),
            "simulation_wall_seconds": round(simulation_seconds, 3),
        },
        "validation": {
            **_throughput(validation, len(bars)),
            "success": result["success"],
            "failed": result["failed"],
            "warnings": result["warnings"],
            "hotspots": validation_hotspots,
            "hourly_run": _throughput(hourly_validation, len(bars)),
        },
        "features": {
            **_throughput(features, len(bars)),
            "model_input_rows": len(model_input),
            "modelled_symbols": int(model_input["symbol"].nunique()),
            "modelled_rows": len(
                drop_warming_up_symbols(bars, params["features"]["min_history_bars"])
            ),
            "model_input_columns": model_input.shape[1],
            "model_input_memory_mib": round(model_input.memory_usage(deep=True).sum() / 2**20, 1),
            "required_lookback": required_lookback(params["features"]),
            "goal": GOAL,
            "meets_goal": features["wall_seconds"] <= GOAL["features_wall_seconds"]
            and features["peak_memory_mib"] <= GOAL["features_peak_memory_mib"],
            "hotspots": features_hotspots,
        },
        "data_profile": {
            **_throughput(profile, len(model_input)),
            "sampled_rows": min(len(model_input), profile_params["sample_rows"]),
            "sampled_columns": profile_params["sample_columns"],
            "minimal": profile_params["minimal"],
            "ydata_profiling_import_seconds": round(profile_import_seconds, 3),
        },
        # Whole process, simulation and cProfile runs included (Linux reports KiB).
        "process_max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    """Measure at full size and write the figures."""
    write_figures("data_refresh", run())
