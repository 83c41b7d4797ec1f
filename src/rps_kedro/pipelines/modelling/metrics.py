"""Forecast metrics: next-hour return (and the close it implies) and next-hour volatility."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((actual - predicted) ** 2)))


def _r2(actual: np.ndarray, predicted: np.ndarray) -> float:
    total = np.sum((actual - actual.mean()) ** 2)
    return float(1 - np.sum((actual - predicted) ** 2) / total) if total > 0 else float("nan")


def qlike(actual_volatility: np.ndarray, predicted_volatility: np.ndarray, floor: float) -> float:
    """Patton's QLIKE loss on variances: mean(v/h - log(v/h) - 1), 0 for a perfect forecast."""
    ratio = np.maximum(actual_volatility, floor) ** 2 / np.maximum(predicted_volatility, floor) ** 2
    return float(np.mean(ratio - np.log(ratio) - 1))


def return_metrics(frame: pd.DataFrame, predicted: pd.Series) -> dict[str, float]:
    """RMSE, MAE, R² of the log return; MAPE of the implied close; direction; skill vs persistence."""
    actual = frame["target_log_return"].to_numpy()
    forecast = predicted.to_numpy()
    close = frame["close"].to_numpy()
    actual_close, predicted_close = close * np.exp(actual), close * np.exp(forecast)
    moved = (actual != 0) & (forecast != 0)
    rmse = _rmse(actual, forecast)
    return {
        "rmse": rmse,
        "mae": float(np.mean(np.abs(actual - forecast))),
        "r2": _r2(actual, forecast),
        "close_mape": float(np.mean(np.abs(predicted_close - actual_close) / actual_close)),
        "directional_accuracy": float(np.mean(np.sign(actual[moved]) == np.sign(forecast[moved])))
        if moved.any()
        else float("nan"),
        "skill_vs_persistence": 1 - rmse / _rmse(actual, np.zeros_like(actual)),
    }


def volatility_metrics(
    frame: pd.DataFrame, predicted: pd.Series, persistence: pd.Series, floor: float
) -> dict[str, float]:
    """RMSE, MAE, R², QLIKE of next-hour volatility, and skill vs persistence on RMSE and QLIKE."""
    actual = frame["target_volatility"].to_numpy()
    forecast, naive = predicted.to_numpy(), persistence.to_numpy()
    rmse, loss = _rmse(actual, forecast), qlike(actual, forecast, floor)
    return {
        "rmse": rmse,
        "mae": float(np.mean(np.abs(actual - forecast))),
        "r2": _r2(actual, forecast),
        "qlike": loss,
        "skill_vs_persistence": 1 - rmse / _rmse(actual, naive),
        "qlike_skill_vs_persistence": 1 - loss / qlike(actual, naive, floor),
    }


def forecast_metrics(
    frame: pd.DataFrame, predictions: pd.DataFrame, persistence_feature: str, floor: float
) -> dict[str, dict[str, float]]:
    """Both targets' metrics for one set of predictions aligned with `frame`."""
    return {
        "return": return_metrics(frame, predictions["predicted_log_return"]),
        "volatility": volatility_metrics(
            frame, predictions["predicted_volatility"], frame[persistence_feature], floor
        ),
    }
