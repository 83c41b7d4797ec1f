"""Readable outputs of a modelling run: the comparison report, plots and the MLflow metrics."""

from __future__ import annotations

import math
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.inspection import permutation_importance

from rps_kedro.pipelines.modelling.forecasters import RegressionForecaster

SHOWN_METRICS = {
    "return": ["rmse", "mae", "r2", "close_mape", "directional_accuracy", "skill_vs_persistence"],
    "volatility": ["rmse", "qlike", "r2", "skill_vs_persistence", "qlike_skill_vs_persistence"],
}


def _table(scores: dict[str, dict[str, dict[str, float]]], target: str) -> str:
    """A Markdown table: one row per model, one column per metric of the target."""
    metrics = SHOWN_METRICS[target]
    lines = ["| model | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for model, values in scores.items():
        cells = [
            f"{values[target][m]:.6g}" if values[target][m] is not None else "n/a" for m in metrics
        ]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def model_comparison_markdown(
    decision: dict[str, Any], test_report: dict[str, Any], selection: dict[str, Any]
) -> str:
    """Challenger vs champion vs baselines on the latest test window, with the decision and why."""
    verdict = "PROMOTED to champion" if decision["promote"] else "NOT promoted"
    window = decision["window"]
    pooled = test_report["pooled"]
    persistence_skill = pooled["challenger"]["return"]["skill_vs_persistence"]
    honesty = (
        "The challenger's return forecast does **not** beat persistence on the test window."
        if persistence_skill <= 0
        else f"The challenger's return RMSE is {persistence_skill:.2%} below persistence."
    )
    return (
        f"""# Model comparison: challenger {verdict}

**Decision:** {decision["reason"]}.
Champion before this run: {decision["champion_version"] or "none"}.
Criteria: return {decision["criteria"]["return"]}, volatility {decision["criteria"]["volatility"]}
(lower is better); mean relative improvement over the champion:
{"n/a" if decision["mean_relative_improvement"] is None else f"{decision['mean_relative_improvement']:.3%}"}.

Test window (latest, never trained on): {window["start"]} to {window["end"]}, {window["rows"]} rows.

## Next-hour log return (the predicted close follows from it)

{_table(decision["scores"], "return")}

{honesty} Skill is 1 - RMSE_model / RMSE_persistence; R² on returns, not on price levels.

## Next-hour realised volatility (Garman-Klass of the next bar)

{_table(decision["scores"], "volatility")}

## All models on the full test window

{_table(pooled, "return")}

{_table(pooled, "volatility")}

Chosen estimators: return = {selection["chosen"]["return"]}, volatility = {selection["chosen"]["volatility"]}
(best on the validation window).

## Checks

"""
        + "\n".join(f"- [{'x' if ok else ' '}] {name}" for name, ok in decision["checks"].items())
        + "\n"
    )


def comparison_figure(decision: dict[str, Any]) -> Figure:
    """Bar charts of the decisive metric per target for challenger, champion and persistence."""
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, (target, metric) in zip(axes, decision["criteria"].items(), strict=True):
        models = list(decision["scores"])
        values = [decision["scores"][model][target][metric] for model in models]
        axis.bar(models, values, color=["tab:blue", "tab:orange", "tab:gray"][: len(models)])
        axis.set_title(f"{target}: {metric} (lower is better)")
    figure.suptitle("promoted" if decision["promote"] else "not promoted")
    figure.tight_layout()
    return figure


def predictions_figure(test_predictions: pd.DataFrame, test: pd.DataFrame) -> Figure:
    """Predicted vs actual close and volatility on the test window, for the first symbol."""
    symbol = test["symbol"].iloc[0]
    rows = test_predictions["symbol"] == symbol
    actual = test.loc[rows]
    predicted = test_predictions.loc[rows]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6), sharex=True)
    top.plot(
        actual["timestamp"],
        actual["close"] * np.exp(actual["target_log_return"]),
        label="actual next close",
    )
    top.plot(
        predicted["timestamp"],
        predicted["close"] * np.exp(predicted["predicted_log_return"]),
        label="predicted",
        alpha=0.7,
    )
    bottom.plot(
        actual["timestamp"], actual["target_volatility"], label="actual next volatility", alpha=0.6
    )
    bottom.plot(predicted["timestamp"], predicted["predicted_volatility"], label="challenger")
    bottom.plot(predicted["timestamp"], predicted["har_volatility"], label="HAR", alpha=0.7)
    top.set_title(f"{symbol}: test window")
    top.legend()
    bottom.legend()
    figure.tight_layout()
    return figure


def residuals_figure(test_predictions: pd.DataFrame, test: pd.DataFrame) -> Figure:
    """Histograms of the return and log-volatility residuals on the test window."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.hist(test["target_log_return"] - test_predictions["predicted_log_return"], bins=80)
    left.set_title("log return residuals")
    ratio = np.log(
        np.maximum(test["target_volatility"], 1e-12) / test_predictions["predicted_volatility"]
    )
    right.hist(ratio, bins=80)
    right.set_title("log(actual / predicted volatility)")
    figure.tight_layout()
    return figure


def feature_importance_figure(
    forecaster: RegressionForecaster, test: pd.DataFrame, params: dict[str, Any]
) -> Figure:
    """Permutation importance of each feature for both targets, on a sample of the test window."""
    sample = test.sample(min(len(test), params["sample_rows"]), random_state=params["random_seed"])
    features = sample[forecaster.feature_columns].to_numpy()
    targets = {
        "return": (forecaster.return_estimator, sample["target_log_return"]),
        "log volatility": (
            forecaster.volatility_estimator,
            np.log(np.maximum(sample["target_volatility"], forecaster.volatility_floor)),
        ),
    }
    figure, axes = plt.subplots(1, 2, figsize=(12, 8))
    for axis, (name, (estimator, target)) in zip(axes, targets.items(), strict=True):
        result = permutation_importance(
            estimator,
            features,
            target,
            n_repeats=params["repeats"],
            random_state=params["random_seed"],
        )
        order = np.argsort(result.importances_mean)[-params["top_features"] :]
        axis.barh(np.asarray(forecaster.feature_columns)[order], result.importances_mean[order])
        axis.set_title(f"permutation importance: {name}")
    figure.tight_layout()
    return figure


def data_checks_summary(validation_result: dict[str, Any]) -> dict[str, Any]:
    """What the quality gate said about the data this model was trained on."""
    keys = ["success", "as_of", "rows", "symbols", "failed", "warnings", "symbol_summary"]
    return {key: validation_result[key] for key in keys}


def mlflow_metrics(
    test_report: dict[str, Any], backtest: dict[str, Any], decision: dict[str, Any]
) -> dict[str, dict[str, float]]:
    """Flat metric names for kedro-mlflow's metrics history dataset ({value, step})."""
    metrics: dict[str, float] = {}
    for model, targets in test_report["pooled"].items():
        for target, values in targets.items():
            metrics.update(
                {f"test.{model}.{target}.{name}": value for name, value in values.items()}
            )
    for model, values in backtest["mean"].items():
        metrics.update({f"backtest.{model}.{name}": value for name, value in values.items()})
    metrics["promoted"] = float(decision["promote"])
    return {
        name: {"value": float(value), "step": 0}
        for name, value in metrics.items()
        if not math.isnan(value)
    }
