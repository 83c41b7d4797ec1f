"""Modelling nodes: chronological splits, walk-forward backtest, selection, test evaluation,
drift reference, champion comparison, and the inference step packaged with the model."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from rps_kedro.bars import KEY_COLUMNS, as_model_input
from rps_kedro.market_calendar import MarketCalendar
from rps_kedro.pipelines.features.engineering import feature_columns, required_lookback
from rps_kedro.pipelines.modelling.forecasters import (
    BASELINES,
    PREDICTION_COLUMNS,
    Forecaster,
    RegressionForecaster,
    build_candidates,
    make_estimator,
)
from rps_kedro.pipelines.modelling.metrics import forecast_metrics

TARGET_METRIC = {"return": ("rmse", "lower"), "volatility": ("qlike", "lower")}


def _time_cuts(timestamps: pd.Series, fractions: list[float]) -> list[pd.Timestamp]:
    """Timestamps splitting the sorted unique hours at the given cumulative fractions."""
    hours = np.sort(timestamps.unique())
    return [pd.Timestamp(hours[int(len(hours) * fraction)]) for fraction in fractions]


def split_by_time(
    model_input: pd.DataFrame, params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train / validation / test by time (the test window is the latest); never shuffled."""
    test_start = 1 - params["test_fraction"]
    validation_start = test_start - params["validation_fraction"]
    validation_cut, test_cut = _time_cuts(model_input["timestamp"], [validation_start, test_start])
    stamps = model_input["timestamp"]
    return (
        model_input[stamps < validation_cut].reset_index(drop=True),
        model_input[(stamps >= validation_cut) & (stamps < test_cut)].reset_index(drop=True),
        model_input[stamps >= test_cut].reset_index(drop=True),
    )


def _evaluate(
    forecaster: Forecaster, train: pd.DataFrame, test: pd.DataFrame, params: dict[str, Any]
) -> dict[str, dict[str, float]]:
    """Fit on `train`, score on `test`."""
    predictions = forecaster.fit(train).predict(test)
    return forecast_metrics(
        test, predictions, params["persistence_volatility_feature"], params["volatility_floor"]
    )


def walk_forward_backtest(
    train: pd.DataFrame, params: dict[str, Any], features_params: dict[str, Any]
) -> dict[str, Any]:
    """Expanding-window folds over the training period, every model refit per fold."""
    folds = params["backtest"]["folds"]
    first = params["backtest"]["initial_train_fraction"]
    fractions = list(np.linspace(first, 1.0, folds + 1))
    cuts = _time_cuts(train["timestamp"], fractions[:-1]) + [train["timestamp"].max()]
    columns = feature_columns(features_params)
    results = []
    for fold, (start, end) in enumerate(zip(cuts[:-1], cuts[1:], strict=True)):
        fold_train = train[train["timestamp"] < start]
        fold_test = train[(train["timestamp"] >= start) & (train["timestamp"] <= end)]
        for name, model in build_candidates(params, columns).items():
            metrics = _evaluate(model, fold_train, fold_test, params)
            results.append(
                {"fold": fold, "model": name, "test_start": str(start), **_flatten(metrics)}
            )
    table = pd.DataFrame(results)
    mean = table.drop(columns=["fold", "test_start"]).groupby("model").mean()
    return {"folds": results, "mean": mean.to_dict(orient="index")}


def _flatten(metrics: dict[str, dict[str, float]]) -> dict[str, float]:
    return {
        f"{target}.{name}": value
        for target, values in metrics.items()
        for name, value in values.items()
    }


def _best(scores: dict[str, dict[str, dict[str, float]]], target: str) -> str:
    metric, _ = TARGET_METRIC[target]
    learned = {name: s for name, s in scores.items() if name not in BASELINES}
    return min(learned, key=lambda name: learned[name][target][metric])


def select_and_fit(
    train: pd.DataFrame,
    validation: pd.DataFrame,
    params: dict[str, Any],
    features_params: dict[str, Any],
) -> tuple[RegressionForecaster, dict[str, Any]]:
    """Score every candidate on validation, keep the best per target, refit on train+validation."""
    columns = feature_columns(features_params)
    scores = {
        name: _evaluate(model, train, validation, params)
        for name, model in build_candidates(params, columns).items()
    }
    chosen = {target: _best(scores, target) for target in TARGET_METRIC}
    forecaster = RegressionForecaster(
        columns,
        make_estimator(params["candidates"][chosen["return"]]),
        make_estimator(params["candidates"][chosen["volatility"]]),
        params["volatility_floor"],
        description=chosen,
    ).fit(pd.concat([train, validation], ignore_index=True))
    return forecaster, {"validation": scores, "chosen": chosen, "criteria": TARGET_METRIC}


def _metrics_by_symbol(
    test: pd.DataFrame, predictions: pd.DataFrame, params: dict[str, Any]
) -> dict[str, dict[str, dict[str, float]]]:
    return {
        symbol: forecast_metrics(
            rows,
            predictions.loc[rows.index],
            params["persistence_volatility_feature"],
            params["volatility_floor"],
        )
        for symbol, rows in test.groupby("symbol")
    }


def evaluate_on_test(
    forecaster: RegressionForecaster,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    test: pd.DataFrame,
    params: dict[str, Any],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Challenger and baselines (fit on train+validation) on the test window, pooled and per symbol."""
    history = pd.concat([train, validation], ignore_index=True)
    challenger = forecaster.predict(test)
    models = {"challenger": challenger}
    for name, baseline in build_candidates(params, forecaster.feature_columns).items():
        if name in BASELINES:
            models[name] = baseline.fit(history).predict(test)
    report = {
        "window": {
            "start": str(test["timestamp"].min()),
            "end": str(test["timestamp"].max()),
            "rows": len(test),
        },
        "pooled": {
            name: forecast_metrics(
                test,
                predictions,
                params["persistence_volatility_feature"],
                params["volatility_floor"],
            )
            for name, predictions in models.items()
        },
        "by_symbol": _metrics_by_symbol(test, challenger, params),
    }
    test_predictions = pd.concat([test[KEY_COLUMNS + ["close"]], challenger], axis=1)
    for name in BASELINES:
        test_predictions[f"{name}_volatility"] = models[name]["predicted_volatility"]
    return test_predictions, report


def build_drift_reference(
    train: pd.DataFrame,
    validation: pd.DataFrame,
    params: dict[str, Any],
    features_params: dict[str, Any],
) -> dict[str, Any]:
    """Per-feature bounds and quantiles of the training window (train + validation)."""
    window = pd.concat([train, validation], ignore_index=True)
    columns = feature_columns(features_params)
    levels = params["drift"]["quantiles"]
    lower, upper = params["drift"]["bounds"]
    quantiles = window[columns].quantile(sorted({*levels, lower, upper}))
    return {
        "window": {
            "start": str(window["timestamp"].min()),
            "end": str(window["timestamp"].max()),
            "rows": len(window),
        },
        "bounds_quantiles": [lower, upper],
        "features": {
            column: {
                "lower": float(quantiles.loc[lower, column]),
                "upper": float(quantiles.loc[upper, column]),
                "mean": float(window[column].mean()),
                "std": float(window[column].std()),
                "quantiles": {str(level): float(quantiles.loc[level, column]) for level in levels},
            }
            for column in columns
        },
    }


def select_inference_example(
    primary_bars: pd.DataFrame, features_params: dict[str, Any], params: dict[str, Any]
) -> pd.DataFrame:
    """The latest bars per symbol, enough for `example_predictions` predictions each."""
    length = required_lookback(features_params) + params["example_predictions"] - 1
    symbols = primary_bars["symbol"].drop_duplicates().head(params["example_symbols"])
    recent = primary_bars[primary_bars["symbol"].isin(symbols)].groupby("symbol").tail(length)
    return as_model_input(recent.reset_index(drop=True))


def predict_next_hour(
    forecaster: RegressionForecaster,
    drift_reference: dict[str, Any],
    bars: pd.DataFrame,
    features: pd.DataFrame,
    calendar_params: dict[str, Any],
) -> pd.DataFrame:
    """Predicted next close, log return and volatility for every bar with a full lookback,
    with the bar time each prediction is for and the share of features outside the reference."""
    complete = features.dropna(subset=forecaster.feature_columns)
    close = bars.set_index(KEY_COLUMNS)["close"]
    keys = pd.MultiIndex.from_frame(complete[KEY_COLUMNS])
    predicted = forecaster.predict(complete)
    reference = drift_reference["features"]
    names = forecaster.feature_columns
    values = complete[names].to_numpy()
    lower = np.array([reference[name]["lower"] for name in names])
    upper = np.array([reference[name]["upper"] for name in names])
    outside = (values < lower) | (values > upper)
    calendar = MarketCalendar(**calendar_params)
    out = complete[KEY_COLUMNS].copy()
    out["prediction_for"] = calendar.next_bar_starts(complete["symbol"], complete["timestamp"])
    out["close"] = close.reindex(keys).to_numpy()
    out["predicted_log_return"] = predicted["predicted_log_return"]
    out["predicted_close"] = out["close"] * np.exp(out["predicted_log_return"])
    out["predicted_volatility"] = predicted["predicted_volatility"]
    out["out_of_range_share"] = outside.mean(axis=1)
    out["out_of_range_features"] = [",".join(np.asarray(names)[row]) for row in outside]
    return out.reset_index(drop=True)


def predict_with_champion(
    champion: Any, primary_bars: pd.DataFrame, test: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    """The current champion's predictions on the test window (empty when there is none)."""
    columns = KEY_COLUMNS + PREDICTION_COLUMNS
    if champion is None:
        return pd.DataFrame(columns=columns)
    context_start = test["timestamp"].min() - pd.Timedelta(hours=params["champion_context_hours"])
    bars = primary_bars[primary_bars["timestamp"] >= context_start]
    predictions = champion["model"].predict(as_model_input(bars))
    return predictions[columns]


def decide_promotion(
    test: pd.DataFrame,
    test_predictions: pd.DataFrame,
    champion_predictions: pd.DataFrame,
    champion: dict[str, Any] | None,
    params: dict[str, Any],
) -> dict[str, Any]:
    """Challenger vs champion vs persistence on the same latest test rows; promote only if better."""
    promotion = params["promotion"]
    floor, persistence = params["volatility_floor"], params["persistence_volatility_feature"]
    rows = test.merge(champion_predictions[KEY_COLUMNS], on=KEY_COLUMNS) if champion else test
    challenger = rows[KEY_COLUMNS].merge(test_predictions, on=KEY_COLUMNS)
    scores = {"challenger": forecast_metrics(rows, challenger, persistence, floor)}
    if champion:
        champion_rows = rows[KEY_COLUMNS].merge(champion_predictions, on=KEY_COLUMNS)
        scores["champion"] = forecast_metrics(rows, champion_rows, persistence, floor)
    scores["persistence"] = forecast_metrics(
        rows,
        rows.assign(predicted_log_return=0.0, predicted_volatility=rows[persistence]),
        persistence,
        floor,
    )
    tolerance = promotion["tolerance_vs_persistence"]
    checks = {
        f"{target} {metric} within {tolerance[target]:.1%} of persistence": scores["challenger"][
            target
        ][metric]
        <= scores["persistence"][target][metric] * (1 + tolerance[target])
        for target, (metric, _) in TARGET_METRIC.items()
    }
    improvement = None
    if champion:
        improvement = float(
            np.mean(
                [
                    1 - scores["challenger"][t][m] / scores["champion"][t][m]
                    for t, (m, _) in TARGET_METRIC.items()
                ]
            )
        )
        checks[f"beats champion by >= {promotion['min_improvement']:.2%}"] = (
            improvement >= promotion["min_improvement"]
        )
    failed = [name for name, ok in checks.items() if not ok]
    promote = not champion or not failed
    if not champion:
        reason = "no champion yet: the first model becomes champion" + (
            f" (though it failed: {'; '.join(failed)})" if failed else ""
        )
    else:
        reason = "all checks passed" if promote else "failed: " + "; ".join(failed)
    return {
        "promote": bool(promote),
        "reason": reason,
        "champion_version": champion["version"] if champion else None,
        "mean_relative_improvement": improvement,
        "checks": {name: bool(ok) for name, ok in checks.items()},
        "criteria": {target: metric for target, (metric, _) in TARGET_METRIC.items()},
        "window": {
            "start": str(rows["timestamp"].min()),
            "end": str(rows["timestamp"].max()),
            "rows": len(rows),
        },
        "scores": scores,
    }
