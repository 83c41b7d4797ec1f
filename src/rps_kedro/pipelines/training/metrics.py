"""Forecast metrics: next-hour return (and the close it implies) and next-hour volatility.

Volatility losses use a floor that scales with the symbol (`VolatilityFloor`): an absolute floor
such as 1e-6 lets one zero-range bar (a half-day close, a halt) give a QLIKE of 10^4 and swamp the
mean. Rows whose target bar had no range are counted and also left out in a second figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from rps_kedro.core.forecasters import VolatilityFloor


def _rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((actual - predicted) ** 2)))


def _r2(actual: np.ndarray, predicted: np.ndarray) -> float:
    total = np.sum((actual - actual.mean()) ** 2)
    return float(1 - np.sum((actual - predicted) ** 2) / total) if total > 0 else float("nan")


def skill(loss: float, baseline_loss: float) -> float:
    """1 - loss / baseline loss: above 0 when a forecast beats its baseline (NaN without one)."""
    return float(1 - loss / baseline_loss) if baseline_loss > 0 else float("nan")


def qlike_losses(
    actual_volatility: np.ndarray, predicted_volatility: np.ndarray, floor: np.ndarray | float
) -> np.ndarray:
    """Patton's QLIKE per row on variances, v/h - log(v/h) - 1 (0 for a perfect forecast)."""
    ratio = np.maximum(actual_volatility, floor) ** 2 / np.maximum(predicted_volatility, floor) ** 2
    return ratio - np.log(ratio) - 1


def squared_errors(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Squared error per row."""
    return (actual - predicted) ** 2


def zero_range_rows(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose target bar had no range (high == low): Garman-Klass volatility exactly 0."""
    return frame["target_volatility"].to_numpy() <= 0


def return_metrics(frame: pd.DataFrame, predicted: np.ndarray) -> dict[str, float]:
    """RMSE, MAE, R² of the log return; MAPE of the implied close; direction; skill vs persistence.

    Directional accuracy counts bars where both the forecast and the outcome moved (NaN for a
    forecast that never moves, such as persistence); `majority_direction_share` is what always
    calling the more frequent direction would score on the same bars."""
    actual = frame["target_log_return"].to_numpy()
    close = frame["close"].to_numpy()
    actual_close, predicted_close = close * np.exp(actual), close * np.exp(predicted)
    moved = (actual != 0) & (predicted != 0)
    up_share = float(np.mean(actual[moved] > 0)) if moved.any() else float("nan")
    rmse = _rmse(actual, predicted)
    return {
        "rmse": rmse,
        "mae": float(np.mean(np.abs(actual - predicted))),
        "r2": _r2(actual, predicted),
        "close_mape": float(np.mean(np.abs(predicted_close - actual_close) / actual_close)),
        "directional_accuracy": float(np.mean(np.sign(actual[moved]) == np.sign(predicted[moved])))
        if moved.any()
        else float("nan"),
        "majority_direction_share": max(up_share, 1 - up_share),
        "skill_vs_persistence": skill(rmse, _rmse(actual, np.zeros_like(actual))),
    }


def volatility_metrics(
    frame: pd.DataFrame, predicted: np.ndarray, floor: VolatilityFloor
) -> dict[str, float]:
    """RMSE, MAE, R² and QLIKE of next-hour volatility; QLIKE without zero-range targets too."""
    actual = frame["target_volatility"].to_numpy()
    losses = qlike_losses(actual, predicted, floor.of(frame))
    flat = zero_range_rows(frame)
    return {
        "rmse": _rmse(actual, predicted),
        "mae": float(np.mean(np.abs(actual - predicted))),
        "r2": _r2(actual, predicted),
        "qlike": float(np.mean(losses)),
        "qlike_without_zero_range": float(np.mean(losses[~flat])) if (~flat).any() else np.nan,
        "zero_range_share": float(np.mean(flat)),
    }


def forecast_metrics(
    frame: pd.DataFrame, predictions: pd.DataFrame, floor: VolatilityFloor
) -> dict[str, dict[str, float]]:
    """Both targets' metrics for one set of predictions aligned with `frame`."""
    return {
        "return": return_metrics(frame, predictions["predicted_log_return"].to_numpy()),
        "volatility": volatility_metrics(
            frame, predictions["predicted_volatility"].to_numpy(), floor
        ),
    }


def target_losses(
    frame: pd.DataFrame, predictions: pd.DataFrame, floor: VolatilityFloor
) -> dict[str, np.ndarray]:
    """Per-row loss of each target's decisive metric: squared error (return), QLIKE (volatility)."""
    return {
        "return": squared_errors(
            frame["target_log_return"].to_numpy(), predictions["predicted_log_return"].to_numpy()
        ),
        "volatility": qlike_losses(
            frame["target_volatility"].to_numpy(),
            predictions["predicted_volatility"].to_numpy(),
            floor.of(frame),
        ),
    }


def diebold_mariano(
    model_losses: np.ndarray, reference_losses: np.ndarray, lags: int
) -> dict[str, float]:
    """Diebold-Mariano test that the model's expected loss is below the reference's.

    d = model - reference; statistic = mean(d) / sqrt(LRV(d) / n) with a Newey-West (Bartlett)
    long-run variance over `lags`; p-value one-sided, P(T <= statistic) under Student's t with
    n - 1 degrees of freedom (Harvey, Leybourne & Newbold): small when the model is better.
    Identical losses give statistic 0 and p-value 0.5 (no evidence either way)."""
    difference = np.asarray(model_losses, dtype="float64") - np.asarray(reference_losses)
    rows = len(difference)
    if rows < 2:
        return {"statistic": float("nan"), "p_value": float("nan"), "mean_difference": np.nan}
    centred = difference - difference.mean()
    variance = np.dot(centred, centred) / rows
    for lag in range(1, min(lags, rows - 1) + 1):
        weight = 1 - lag / (lags + 1)
        variance += 2 * weight * np.dot(centred[lag:], centred[:-lag]) / rows
    if variance <= 0:
        statistic = 0.0 if difference.mean() == 0 else np.sign(difference.mean()) * np.inf
    else:
        statistic = float(difference.mean() / np.sqrt(variance / rows))
    return {
        "statistic": float(statistic),
        "p_value": float(stats.t.cdf(statistic, df=rows - 1)),
        "mean_difference": float(difference.mean()),
    }
