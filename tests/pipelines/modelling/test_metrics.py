"""Forecast metrics on hand-checkable inputs."""

import numpy as np
import pandas as pd
import pytest

from rps_kedro.pipelines.modelling.metrics import qlike, return_metrics, volatility_metrics


def _frame(returns, volatility, close=100.0):
    return pd.DataFrame(
        {"target_log_return": returns, "target_volatility": volatility, "close": close}
    )


def test_qlike_is_zero_for_a_perfect_forecast_and_positive_otherwise():
    actual = np.array([0.01, 0.02, 0.005])
    assert qlike(actual, actual, 1e-9) == pytest.approx(0)
    assert qlike(actual, actual * 2, 1e-9) > 0
    assert qlike(actual, actual / 2, 1e-9) > qlike(actual, actual * 2, 1e-9), (
        "QLIKE punishes under-prediction more"
    )


def test_return_metrics_skill_direction_and_close_mape():
    frame = _frame([0.01, -0.02, 0.03, -0.01], 0.01)
    perfect = return_metrics(frame, pd.Series([0.01, -0.02, 0.03, -0.01]))
    assert perfect["rmse"] == 0 and perfect["skill_vs_persistence"] == 1
    assert perfect["directional_accuracy"] == 1 and perfect["close_mape"] == 0
    persistence = return_metrics(frame, pd.Series([0.0] * 4))
    assert persistence["skill_vs_persistence"] == 0
    assert np.isnan(persistence["directional_accuracy"]), "a zero forecast has no direction"
    wrong_way = return_metrics(frame, pd.Series([-0.01, 0.02, -0.03, 0.01]))
    assert wrong_way["directional_accuracy"] == 0 and wrong_way["skill_vs_persistence"] < 0
    assert wrong_way["close_mape"] == pytest.approx(
        np.mean(np.abs(np.exp([-0.01, 0.02, -0.03, 0.01]) / np.exp([0.01, -0.02, 0.03, -0.01]) - 1))
    )


def test_volatility_metrics_against_persistence():
    frame = _frame(0.0, [0.01, 0.02, 0.03])
    truth = pd.Series([0.01, 0.02, 0.03])
    naive = pd.Series([0.02, 0.01, 0.02])
    metrics = volatility_metrics(frame, truth, naive, 1e-9)
    assert metrics["skill_vs_persistence"] == 1 and metrics["qlike_skill_vs_persistence"] == 1
    same = volatility_metrics(frame, naive, naive, 1e-9)
    assert same["skill_vs_persistence"] == 0 and same["qlike_skill_vs_persistence"] == 0
