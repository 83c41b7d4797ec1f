"""Data refresh benchmark: the validation gate, the features and the data profile on N symbols x
Y years of hourly bars, with the project's parameters; cProfile says what dominates. Then one
hourly refresh over 1 and 2 years of stored history, the same new bars: what it reads, writes,
takes and holds (`hourly_refresh`)."""

from __future__ import annotations

import cProfile
import importlib
import logging
import multiprocessing
import os
import pstats
import resource
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
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
from tests.conftest import copy_project

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


# ---- one hourly refresh, 1 year vs 2 years of stored history -----------------------------------
REFRESH_END = pd.Timestamp("2025-06-03 15:00")  # a Tuesday in the NYSE session: every symbol trades
REFRESH_NAMESPACES = ["ingestion", "validation", "features"]  # forecast and live scoring need a
# champion and a Pushgateway; they read the same recent bars as the features


def _proc_io() -> dict[str, int]:
    """This process's characters read and written so far (/proc/self/io: every read and write)."""
    fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return {"read": int(fields["rchar"]), "written": int(fields["wchar"])}


def _data_files(project: Path) -> dict[Path, int]:
    """Every file under the project's data/ with its modification time (ns)."""
    return {
        path: path.stat().st_mtime_ns for path in (project / "data").rglob("*") if path.is_file()
    }


def _refresh_project(workdir: Path, symbols: list[str], days: int, first: pd.Timestamp) -> Path:
    """A project copy whose catalog holds `days` of every symbol's history before REFRESH_END
    (primary bars and model_input, as the last run left them) and whose simulated market
    (origin `first`, the same for every history length) has the bar at REFRESH_END."""
    project = copy_project(workdir / "project")
    hours = int((REFRESH_END - first) / pd.Timedelta(hours=1)) + 1
    (project / "conf/local/parameters.yml").write_text(
        f"ingestion:\n  symbols: {symbols}\ndata_profile:\n  enabled: false\n"
    )
    (project / "conf/local/catalog.yml").write_text(
        "market_source:\n  type: rps_kedro.datasets.SimulatedMarketDataset\n"
        f"  seed: 1\n  origin: '{first}'\n  end: '{REFRESH_END}'\n  backfill_hours: {hours}\n"
    )
    bars = simulate_bars(symbols, first, REFRESH_END)
    start = REFRESH_END - pd.Timedelta(days=days)
    history = bars[(bars["timestamp"] >= start.tz_localize("UTC"))]
    history = history[history["timestamp"] < REFRESH_END.tz_localize("UTC")].reset_index(drop=True)
    catalog = _project_catalog(project)
    catalog.save("primary_bars", history)
    catalog.save("model_input", build_model_input(history, project_parameters()["features"]))
    return project


def _project_catalog(project: Path) -> Any:
    """The project's catalog and parameters (conf/base + conf/local), its relative paths under
    `project`."""
    from kedro.io import DataCatalog  # noqa: PLC0415

    config = load_config("catalog", project / "conf", "local")
    os.chdir(project)  # the catalog's paths are relative to the project, as in `kedro run`
    catalog = DataCatalog.from_config(config)
    parameters = load_config("parameters", project / "conf", "local")
    for name, value in parameters.items():  # `params:<name>` and `params:<name>.<key>`
        catalog[f"params:{name}"] = value
        for key, inner in value.items():
            catalog[f"params:{name}.{key}"] = inner
    return catalog


def _seed(workdir: str, symbol_count: int, days: int, first: str) -> int:
    """In a fresh process: a project in `workdir` with `days` of history; its stored bars."""
    symbols = benchmark_symbols(symbol_count)
    project = _refresh_project(Path(workdir), symbols, days, pd.Timestamp(first))
    return len(_project_catalog(project).load("primary_bars"))


def _refresh(project: str) -> dict[str, Any]:
    """In a fresh process: run the data refresh's ingestion, gate and features once; what it
    cost (time, bytes read and written by the process, data files written, peak memory)."""
    from kedro.runner import SequentialRunner  # noqa: PLC0415

    from rps_kedro.pipeline_registry import register_pipelines  # noqa: PLC0415

    importlib.import_module("great_expectations")  # imported by the gate's first call
    logging.disable(logging.INFO)  # Kedro's line per dataset and node, the gate's per symbol
    pipeline = register_pipelines()["data_refresh"].only_nodes_with_namespaces(REFRESH_NAMESPACES)
    catalog = _project_catalog(Path(project))
    before, files = _proc_io(), _data_files(Path(project))
    start_rss = _peak_rss_mib(reset=True)
    started = time.perf_counter()
    SequentialRunner().run(pipeline, catalog)
    wall = time.perf_counter() - started
    peak_rss = _peak_rss_mib()
    after = _proc_io()
    written = [
        path.stat().st_size
        for path, mtime in _data_files(Path(project)).items()
        if files.get(path) != mtime
    ]
    return {
        "stored_bars_after": len(_project_catalog(Path(project)).load("primary_bars")),
        "wall_seconds": round(wall, 2),
        "read_mib": round((after["read"] - before["read"]) / 2**20, 1),
        "written_mib": round((after["written"] - before["written"]) / 2**20, 1),
        "data_files_written": len(written),
        "data_mib_written": round(sum(written) / 2**20, 2),
        "start_rss_mib": start_rss,
        "peak_rss_mib": peak_rss,
    }


def _in_fresh_process(function: Callable[..., Any], *arguments: Any) -> Any:
    """The function's result, run in a new Python process (its memory the function's alone)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *arguments).result()


def hourly_refresh(symbol_count: int = 100, history_days: tuple[int, ...] = (365, 730)) -> dict:
    """One hourly refresh (ingestion, gate, features of the data_refresh pipeline) of
    `symbol_count` symbols over each stored history length, the same new bar for every symbol;
    the history is stored by one process, the refresh measured in another."""
    first = str(REFRESH_END - pd.Timedelta(days=max(history_days)))
    runs = []
    for days in history_days:
        with tempfile.TemporaryDirectory(prefix="bench-refresh-") as workdir:
            stored = _in_fresh_process(_seed, workdir, symbol_count, days, first)
            figures = _in_fresh_process(_refresh, str(Path(workdir) / "project"))
        after = figures.pop("stored_bars_after")
        runs.append(
            {"history_days": days, "stored_bars": stored, "new_bars": after - stored, **figures}
        )
    return {"symbols": symbol_count, "new_bar_at": str(REFRESH_END), "runs": runs}


def main() -> None:
    """Measure at full size and write the figures."""
    write_figures("data_refresh", {**run(), "hourly_refresh": hourly_refresh()})
