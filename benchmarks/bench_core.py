"""The forecasting core without HTTP: features for many symbols over a long history (training's
path), and one symbol's prediction from its lookback bars (the service's model call).

Goals (issue 12): features for 100 symbols x 2 years <= 3 s; predict one symbol from 169 bars
p50 <= 1 ms; 64 symbols in one call <= 15 ms. Writes data/08_reporting/benchmarks/core.json.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from benchmarks.bench_forecasts import simulated_bars
from benchmarks.bench_ingestion import benchmark_symbols
from benchmarks.harness import measure, write_figures
from rps_kedro.core.bars import as_model_input
from rps_kedro.core.features import BarArrays, compute_features, feature_columns, sort_bars
from rps_kedro.core.forecasters import BASELINES, Forecaster, build_candidates, fit_candidate
from rps_kedro.core.model import ForecastModel
from rps_kedro.pipelines.features.nodes import build_model_input
from rps_kedro.pipelines.training.nodes import build_drift_reference
from tests.conftest import project_parameters

HOURS_PER_YEAR = 24 * 365
FEATURE_SYMBOLS = 100
FEATURE_YEARS = 2
BATCH_SYMBOLS = 64
PREDICT_REPEATS = 300
MODEL_SYMBOLS = ["AAPL", "BTC-USD"]
TIMED_CANDIDATE = "gradient_boosting"  # the slowest candidate to predict, served for both targets
GOALS = {"features_seconds": 3.0, "predict_one_p50_ms": 1.0, "predict_batch_64_p50_ms": 15.0}
MS = 1000.0


def features_figures(symbols: int, years: int, params: dict[str, Any]) -> dict[str, Any]:
    """Wall time (untraced: tracing slows numpy's allocations) and, in a second run, the peak
    traced memory of the features of `symbols` x `years` of bars."""
    bars = simulated_bars(benchmark_symbols(symbols), years * HOURS_PER_YEAR)
    began = time.perf_counter()
    compute_features(bars, params)
    wall = time.perf_counter() - began
    _, traced = measure(lambda: compute_features(bars, params))
    return {
        "symbols": symbols,
        "years": years,
        "bars": len(bars),
        "wall_seconds": round(wall, 3),
        "peak_memory_mib": traced["peak_memory_mib"],
    }


def _latest_bars(bars: pd.DataFrame, lookback: int, copies: int) -> BarArrays:
    """Each model symbol's last `lookback` bars, repeated to `copies` symbols (keys made unique)."""
    tails = [
        frame.tail(lookback).assign(symbol=f"{symbol}|{copy}")
        for copy in range(copies // len(MODEL_SYMBOLS))
        for symbol, frame in bars.groupby("symbol")
    ]
    return BarArrays.from_frame(sort_bars(pd.concat(tails, ignore_index=True)))


def predict_p50_ms(model: ForecastModel, arrays: BarArrays, repeats: int) -> float:
    """Median milliseconds of the service's model call (features at the latest bars, predict),
    on one native thread like the service's inference thread."""
    last_rows = np.flatnonzero(np.r_[arrays.symbol[1:] != arrays.symbol[:-1], True])
    timings = []
    with threadpool_limits(limits=1):
        for _ in range(repeats):
            began = time.perf_counter()
            features = model.feature_matrix(arrays, at=last_rows)
            model.predict_rows(arrays, last_rows, features)
            timings.append(time.perf_counter() - began)
    return round(float(np.median(timings)) * MS, 3)


def timed_model(bars: pd.DataFrame, parameters: dict[str, Any]) -> ForecastModel:
    """A bundle serving gradient boosting for both targets (with the baselines, as trained)."""
    features, modelling = parameters["features"], parameters["modelling"]
    model_input = build_model_input(bars, features)
    columns = feature_columns(features)
    candidates = build_candidates(modelling, columns)
    fitted = {
        name: fit_candidate(candidates[name], model_input, 1)
        for name in (*BASELINES, TIMED_CANDIDATE)
    }
    served = {"return": TIMED_CANDIDATE, "volatility": TIMED_CANDIDATE}
    forecaster = Forecaster(columns, fitted, served, dict.fromkeys(served, "test"))
    reference = build_drift_reference(model_input, model_input.head(0), modelling, features)
    return ForecastModel.build(forecaster, features, reference, as_model_input(bars.head(10)))


def prediction_figures(parameters: dict[str, Any], repeats: int, hours: int) -> dict[str, Any]:
    """Fit the model on `hours` of two simulated symbols; time one and 64 symbols per call."""
    bars = simulated_bars(MODEL_SYMBOLS, hours)
    model = timed_model(bars, parameters)
    one = _latest_bars(bars, model.lookback, len(MODEL_SYMBOLS))
    one = BarArrays(**{k: v[: model.lookback] for k, v in vars(one).items()})
    batch = _latest_bars(bars, model.lookback, BATCH_SYMBOLS)
    return {
        "model": f"{TIMED_CANDIDATE} for both targets",
        "lookback_bars": model.lookback,
        "predict_one_p50_ms": predict_p50_ms(model, one, repeats),
        "predict_batch_64_p50_ms": predict_p50_ms(model, batch, repeats),
    }


def run(
    symbols: int = FEATURE_SYMBOLS,
    years: int = FEATURE_YEARS,
    repeats: int = PREDICT_REPEATS,
    training_hours: int = HOURS_PER_YEAR,
) -> dict[str, Any]:
    parameters = project_parameters()
    figures = {
        "features": features_figures(symbols, years, parameters["features"]),
        **prediction_figures(parameters, repeats, training_hours),
    }
    measured = {
        "features_seconds": figures["features"]["wall_seconds"],
        "predict_one_p50_ms": figures["predict_one_p50_ms"],
        "predict_batch_64_p50_ms": figures["predict_batch_64_p50_ms"],
    }
    met = {name: measured[name] <= goal for name, goal in GOALS.items()}
    return {**figures, "goals": GOALS, "met": met}


def main() -> None:
    path = write_figures("core", run())
    print(path.read_text())  # noqa: T201


if __name__ == "__main__":
    main()
