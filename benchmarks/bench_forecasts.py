"""Forecast honesty figures: for the simulator and every real series in ../shared/data/real
(when present), one training run's served forecast vs persistence and HAR on its test window,
and the promotion rule backtested ("retrain weekly, promote by the rule") over the history.

Writes data/08_reporting/benchmarks/forecasts.json and a readable forecasts.md beside it.
"""

from __future__ import annotations

import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.harness import REPORT_DIR, four_digits, measure, write_figures
from rps_kedro.core.bars import conform_bars
from rps_kedro.core.drift import out_of_range, reference_bounds
from rps_kedro.core.features import feature_columns
from rps_kedro.datasets import SimulatedMarketDataset
from rps_kedro.pipelines.features.nodes import build_model_input
from rps_kedro.pipelines.training.nodes import build_drift_reference, split_by_time
from rps_kedro.pipelines.training.online import retrain, simulate_promotion
from tests.conftest import PROJECT_ROOT, project_parameters

REAL_DATA = PROJECT_ROOT.parent / "shared/data/real"
WEEKLY = {"warmup_fraction": 0.5, "retrain_every_hours": 168}
SIMULATED = {"symbols": ["AAPL", "MSFT", "SPY", "BTC-USD", "ETH-USD"], "hours": 24 * 365}


def simulated_bars(symbols: list[str], hours: int) -> pd.DataFrame:
    """The project's simulator (fixed seed), `hours` of history for the symbols."""
    simulator = SimulatedMarketDataset(
        seed=42, origin="2024-01-01", end="2025-12-31 23:00", backfill_hours=hours
    )
    return conform_bars(pd.concat([simulator.fetch(symbol) for symbol in symbols]))


def training_run(model_input: pd.DataFrame, parameters: dict[str, Any]) -> dict[str, Any]:
    """One training run with no champion (the modelling nodes): served vs baselines on test,
    and the share of test rows the service would answer with the baseline (fallback)."""
    _, decision, report = retrain(
        model_input, None, 0, parameters["modelling"], parameters["features"]
    )
    return summarise(decision, report) | fallback_share(model_input, parameters)


def fallback_share(model_input: pd.DataFrame, parameters: dict[str, Any]) -> dict[str, Any]:
    """Test rows whose share of features outside the training range (the drift reference of
    train + tuning) exceeds the fallback threshold: answered with the baseline, not the model."""
    modelling, features = parameters["modelling"], parameters["features"]
    train, tuning, test = split_by_time(model_input, modelling["split"])
    reference = build_drift_reference(train, tuning, modelling, features)
    names = feature_columns(features)
    outside = out_of_range(test[names].to_numpy(), *reference_bounds(reference, names))
    threshold = parameters["forecast"]["fallback"]["max_out_of_range_share"]
    shares = outside.mean(axis=1)
    return {
        "test_mean_out_of_range_share": float(shares.mean()),
        "test_fallback_share": float((shares > threshold).mean()),
        "fallback_threshold": threshold,
    }


def _p_value(tests: dict[str, Any], target: str, rival: str) -> float:
    """The DM p-value vs a rival; NaN when the served model is that rival itself."""
    return tests[target].get(rival, {"p_value": math.nan})["p_value"]


def _target_figures(scores: dict[str, Any], tests: dict[str, Any]) -> dict[str, Any]:
    served = scores["challenger"]
    return {
        "return_rmse": {name: values["return"]["rmse"] for name, values in scores.items()},
        "return_skill_vs_persistence": served["return"]["skill_vs_persistence"],
        "return_dm_p_vs_persistence": _p_value(tests, "return", "persistence"),
        "direction_hit_rate": served["return"]["directional_accuracy"],
        "majority_direction_share": served["return"]["majority_direction_share"],
        "volatility_qlike": {
            name: values["volatility"]["qlike"] for name, values in scores.items()
        },
        "volatility_qlike_skill_vs_har": 1
        - served["volatility"]["qlike"] / scores["har"]["volatility"]["qlike"],
        "volatility_dm_p_vs_har": _p_value(tests, "volatility", "har"),
        "zero_range_share": served["volatility"]["zero_range_share"],
    }


def summarise(decision: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """The figures of a decision: what is served, pooled and per symbol vs the baselines."""
    served = {target: choice["model"] for target, choice in decision["served"].items()}
    by_symbol = {}
    for symbol, comparison in report["by_symbol"].items():
        scores = comparison["metrics"]
        per_target = {
            "challenger": {t: scores[name][t] for t, name in served.items()},
            **{name: scores[name] for name in ("persistence", "har")},
        }
        tests = {t: comparison["diebold_mariano"][name][t] for t, name in served.items()}
        by_symbol[symbol] = _target_figures(per_target, tests)
    challenger_tests = decision["diebold_mariano"]["challenger"]
    return {
        "served": served,
        "reasons": {target: choice["reason"] for target, choice in decision["served"].items()},
        "promoted": decision["promote"],
        "window": decision["window"],
        "pooled": _target_figures(
            {name: decision["scores"][name] for name in ("challenger", "persistence", "har")},
            challenger_tests,
        ),
        "by_symbol": by_symbol,
    }


def evaluate_series(name: str, bars: pd.DataFrame, simulate: bool) -> dict[str, Any]:
    """One series: its training run and, when asked, the weekly promotion backtest."""
    parameters = project_parameters()
    model_input = build_model_input(bars, parameters["features"])
    run, run_figures = measure(lambda: training_run(model_input, parameters))
    figures: dict[str, Any] = {
        "rows": len(bars),
        "symbols": sorted(bars["symbol"].unique()),
        "training_run": run | {"wall_seconds": run_figures["wall_seconds"]},
    }
    if simulate:
        simulation, simulation_figures = measure(
            lambda: simulate_promotion(
                model_input, parameters["modelling"], parameters["features"], WEEKLY
            )
        )
        simulation.pop("events")
        figures["promotion_backtest"] = simulation | {
            "schedule": WEEKLY,
            "wall_seconds": simulation_figures["wall_seconds"],
        }
    return {"name": name, **figures}


def _real_series(path: Path) -> dict[str, Any]:
    return evaluate_series(path.stem, conform_bars(pd.read_parquet(path)), simulate=True)


def run(real_data: Path = REAL_DATA, workers: int = 2) -> dict[str, Any]:
    """The simulator's figures, then every real series' (in `workers` processes)."""
    results = {
        "simulator": evaluate_series(
            "simulator", simulated_bars(SIMULATED["symbols"], SIMULATED["hours"]), simulate=False
        )
    }
    paths = sorted(real_data.glob("*_1h.parquet")) if real_data.is_dir() else []
    # spawn, not fork: a child forked after the parent ran OpenMP (gradient boosting) hangs.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for path, figures in zip(paths, pool.map(_real_series, paths), strict=True):
            results[path.stem] = figures
    return {"series": results, "real_data": str(real_data) if paths else None}


def markdown(figures: dict[str, Any]) -> str:
    """One table row per series: what is served and its skill vs the naive forecasts."""
    lines = [
        "| series | served (return / volatility) | return RMSE served / persistence | DM p |"
        " volatility QLIKE served / HAR / persistence | DM p vs HAR | zero-range share |"
        " fallback share (test) |"
        " weekly rule: return skill, QLIKE skill vs HAR, promotions / retrains, switches |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, series in figures["series"].items():
        run_figures = series["training_run"]
        pooled = run_figures["pooled"]
        rmse, qlike = pooled["return_rmse"], pooled["volatility_qlike"]
        simulated = series.get("promotion_backtest")
        weekly = "not run"
        if simulated:
            weekly = (
                f"{four_digits(simulated['pooled']['return_skill_vs_persistence'])},"
                f" {four_digits(simulated['pooled']['volatility_qlike_skill_vs_har'])},"
                f" {simulated['promotions']} / {simulated['retrains']},"
                f" {simulated['switches']}"
            )
        lines.append(
            f"| {name} | {run_figures['served']['return']} / {run_figures['served']['volatility']}"
            f" | {four_digits(rmse['challenger'])} / {four_digits(rmse['persistence'])}"
            f" | {four_digits(pooled['return_dm_p_vs_persistence'])}"
            f" | {four_digits(qlike['challenger'])} / {four_digits(qlike['har'])}"
            f" / {four_digits(qlike['persistence'])}"
            f" | {four_digits(pooled['volatility_dm_p_vs_har'])}"
            f" | {four_digits(pooled['zero_range_share'])}"
            f" | {four_digits(run_figures['test_fallback_share'])} | {weekly} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Full size: the simulator and every real series present; figures as JSON and Markdown."""
    figures = run()
    write_figures("forecasts", figures)
    (REPORT_DIR / "forecasts.md").write_text(markdown(figures))


if __name__ == "__main__":
    main()
