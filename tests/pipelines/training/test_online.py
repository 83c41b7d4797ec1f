"""The promotion rule replayed over a history: only known rows train, the champion serves."""

import pandas as pd

from rps_kedro.pipelines.training.online import known_at, retrain_times, simulate_promotion


def test_retrains_start_after_the_warm_up_and_repeat_on_schedule(model_input):
    moments = retrain_times(model_input, {"warmup_fraction": 0.5, "retrain_every_hours": 240})
    first, last = model_input["timestamp"].min(), model_input["timestamp"].max()
    assert moments[0] >= first + (last - first) / 2
    assert all(b - a == pd.Timedelta(hours=240) for a, b in zip(moments, moments[1:], strict=False))
    assert moments[-1] <= last


def test_a_retrain_sees_only_rows_whose_target_bar_had_closed(model_input):
    moment = model_input["timestamp"].quantile(0.6).ceil("h")
    known = known_at(model_input, moment)
    assert (known["timestamp"] + pd.Timedelta(hours=2) <= moment).all(), "bar, then target bar"
    crypto = known[known["symbol"] == "BTC-USD"]
    assert crypto["timestamp"].max() == moment - pd.Timedelta(hours=2)


def test_the_weekly_rule_serves_every_later_row_and_counts_promotions(
    model_input, modelling_params, parameters
):
    schedule = {"warmup_fraction": 0.75, "retrain_every_hours": 168}
    result = simulate_promotion(model_input, modelling_params, parameters["features"], schedule)
    moments = retrain_times(model_input, schedule)
    assert result["retrains"] == len(moments) >= 2
    assert result["window"]["rows"] == (model_input["timestamp"] >= moments[0]).sum()
    assert result["events"][0]["promoted"], "the first version passes its baselines"
    pooled = result["pooled"]
    assert pooled["return_rmse"]["served"] <= pooled["return_rmse"]["persistence"] * 1.01
    assert set(result["by_symbol"]) == set(model_input["symbol"])
