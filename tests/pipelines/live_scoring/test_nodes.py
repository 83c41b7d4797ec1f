"""Live scoring: the join of logged forecasts with the realised bars, and the live metrics."""

import numpy as np
import pandas as pd
import pytest

from rps_kedro.core.features import compute_targets
from rps_kedro.pipelines.live_scoring.nodes import (
    collect_predictions,
    live_metrics,
    score_predictions,
)
from rps_kedro.pipelines.training.metrics import qlike_losses
from tests.pipelines.live_scoring.conftest import FRIDAY_CLOSE_BAR, _bars, _hour


def test_each_forecast_is_scored_missing_or_pending(logged, bars, params):
    scored = score_predictions(collect_predictions(logged, params), bars)
    status = scored.set_index("request_id")["status"].to_dict()
    assert status == {"a": "scored", "b": "scored", "c": "missing", "d": "scored", "e": "pending"}
    targets = compute_targets(bars).set_index(["symbol", "timestamp"])
    weekend = scored.set_index("request_id").loc["d"]
    expected = targets.loc[("AAPL", FRIDAY_CLOSE_BAR)]
    assert weekend["target_log_return"] == pytest.approx(np.log(204.0 / 200.0))
    assert weekend["target_volatility"] == expected["target_volatility"]
    assert scored.set_index("request_id")[["target_log_return"]].loc[["c", "e"]].isna().all().all()


def test_a_late_bar_turns_a_pending_forecast_into_a_scored_one(logged, bars, params):
    late = _bars("BTC-USD", [_hour(6)], [101.0])
    before = score_predictions(collect_predictions(logged, params), bars)
    after = score_predictions(collect_predictions(logged, params), pd.concat([bars, late]))
    assert before.set_index("request_id").loc["e", "status"] == "pending"
    assert after.set_index("request_id").loc["e", "status"] == "scored"


def test_metrics_per_symbol_version_and_window_equal_a_hand_computation(logged, bars, params):
    scored = score_predictions(collect_predictions(logged, params), bars)
    metrics = live_metrics(scored, params).set_index(["symbol", "model_version", "window"])
    assert sorted(metrics.index) == [
        ("AAPL", "3", "1d"),
        ("AAPL", "3", "7d"),
        ("BTC-USD", "3", "7d"),
        ("BTC-USD", "4", "7d"),
    ]
    btc = metrics.loc[("BTC-USD", "3", "7d")]
    realised = np.log(101.0 / 100.0)  # request a: 00:00 -> 01:00
    assert (btc["scored"], btc["missing"], btc["pending"]) == (1, 1, 1)
    assert btc["unscored_share"] == 0.5
    assert btc["rmse_return"] == pytest.approx(abs(realised - 0.004))
    assert btc["rmse_return_persistence"] == pytest.approx(abs(realised))
    assert btc["return_skill_vs_persistence"] == pytest.approx(1 - abs(realised - 0.004) / realised)
    actual_volatility = scored.set_index("request_id").loc["a", "target_volatility"]
    qlike = qlike_losses(np.array([actual_volatility]), np.array([0.002]), 0.1 * 0.0025)[0]
    qlike_har = qlike_losses(np.array([actual_volatility]), np.array([0.0025]), 0.1 * 0.0025)[0]
    assert btc["qlike_volatility"] == pytest.approx(qlike)
    assert btc["volatility_skill_vs_har"] == pytest.approx(1 - qlike / qlike_har)
    assert btc["directional_accuracy"] == 1.0
    assert btc["mean_out_of_range_share"] == pytest.approx(0.1)
    assert metrics.loc[("BTC-USD", "4", "7d"), "directional_accuracy"] == 0.0  # up, then down


def test_an_empty_log_gives_no_metrics(bars, params):
    scored = score_predictions(collect_predictions({}, params), bars)
    assert scored.empty and live_metrics(scored, params).empty
