"""Forecast metrics on hand-checkable inputs."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rps_kedro.pipelines.training.metrics import (
    VolatilityFloor,
    diebold_mariano,
    forecast_metrics,
    qlike_losses,
    return_metrics,
    volatility_metrics,
)

FLOOR = VolatilityFloor("weekly", 0.1, 1e-8)


def _frame(returns, volatility, close=100.0, weekly=0.01):
    return pd.DataFrame(
        {
            "target_log_return": returns,
            "target_volatility": volatility,
            "close": close,
            "weekly": weekly,
        }
    )


def test_qlike_is_zero_for_a_perfect_forecast_and_punishes_under_prediction_more():
    actual = np.array([0.01, 0.02, 0.005])
    assert qlike_losses(actual, actual, 1e-9) == pytest.approx(0)
    over, under = qlike_losses(actual, actual * 2, 1e-9), qlike_losses(actual, actual / 2, 1e-9)
    assert (over > 0).all() and (under > over).all()


def test_return_metrics_skill_direction_majority_and_close_mape():
    frame = _frame([0.01, -0.02, 0.03, 0.01], 0.01)
    perfect = return_metrics(frame, np.array([0.01, -0.02, 0.03, 0.01]))
    assert perfect["rmse"] == 0 and perfect["skill_vs_persistence"] == 1
    assert perfect["directional_accuracy"] == 1 and perfect["close_mape"] == 0
    assert perfect["majority_direction_share"] == 0.75, "3 of 4 moves were up"
    persistence = return_metrics(frame, np.zeros(4))
    assert persistence["skill_vs_persistence"] == 0
    assert np.isnan(persistence["directional_accuracy"]), "a zero forecast has no direction"
    wrong_way = return_metrics(frame, np.array([-0.01, 0.02, -0.03, -0.01]))
    assert wrong_way["directional_accuracy"] == 0 and wrong_way["skill_vs_persistence"] < 0


def test_volatility_floor_scales_with_the_symbol():
    frame = _frame(0.0, [0.01, 0.02], weekly=[0.02, np.nan])
    assert FLOOR.of(frame).tolist() == [pytest.approx(0.002), 1e-8]


def test_one_zero_range_bar_leaves_every_qlike_finite_and_of_the_same_order():
    rng = np.random.default_rng(0)
    actual = 0.01 * np.exp(rng.normal(0, 0.5, 500))
    forecasts = {
        "good": actual * np.exp(rng.normal(0, 0.3, 500)),
        "persistence": np.roll(actual, 1),
        "flat": np.full(500, 0.01),
    }
    clean = _frame(0.0, actual)
    halted = clean.copy()
    halted.loc[250, "target_volatility"] = 0.0  # a halt: the next bar has no range
    for forecast in forecasts.values():
        forecast[251] = 0.0  # persistence-like forecasts repeat the flat bar
    for name, forecast in forecasts.items():
        before = volatility_metrics(clean, forecast, FLOOR)["qlike"]
        after = volatility_metrics(halted, forecast, FLOOR)
        assert np.isfinite(after["qlike"]), name
        assert after["qlike"] < 2 * before, f"{name}: {after['qlike']} vs {before}"
        assert after["zero_range_share"] == pytest.approx(1 / 500)
        assert after["qlike_without_zero_range"] <= after["qlike"]
    absolute = qlike_losses(halted["target_volatility"].to_numpy(), forecasts["good"], 1e-6)
    assert absolute.max() > 1e3, "with an absolute 1e-6 floor the same bar explodes"


def test_forecast_metrics_gives_both_targets():
    frame = _frame([0.01, -0.01], [0.01, 0.02])
    predictions = pd.DataFrame(
        {"predicted_log_return": [0.0, 0.0], "predicted_volatility": [0.01, 0.02]}
    )
    metrics = forecast_metrics(frame, predictions, FLOOR)
    assert metrics["volatility"]["qlike"] == pytest.approx(0)
    assert metrics["return"]["rmse"] == pytest.approx(0.01)


def test_diebold_mariano_matches_a_hand_computed_case():
    model = np.array([1.0, 2.0, 0.5, 1.5, 1.0])
    reference = np.array([2.0, 2.5, 1.5, 1.0, 2.0])
    # d = [-1, -0.5, -1, 0.5, -1]: mean -0.6; centred squares sum 1.7, so variance 0.34 (lag 0)
    statistic = -0.6 / np.sqrt(0.34 / 5)
    result = diebold_mariano(model, reference, lags=0)
    assert result["statistic"] == pytest.approx(statistic)
    assert result["p_value"] == pytest.approx(stats.t.cdf(statistic, df=4))
    assert result["p_value"] < 0.05, "the model's losses are clearly lower"
    # one Bartlett lag (weight 1/2): autocovariance sum of centred products / n
    centred = model - reference + 0.6
    lag_one = 0.34 + 2 * 0.5 * np.dot(centred[1:], centred[:-1]) / 5
    assert diebold_mariano(model, reference, lags=1)["statistic"] == pytest.approx(
        -0.6 / np.sqrt(lag_one / 5)
    )
    same = diebold_mariano(model, model, lags=3)
    assert same["statistic"] == 0 and same["p_value"] == 0.5
