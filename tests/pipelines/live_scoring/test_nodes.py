"""Live scoring: the join of logged forecasts with the realised bars, and the live metrics."""

import numpy as np
import pandas as pd
import pytest

from rps_kedro.core.features import compute_targets
from rps_kedro.pipelines.live_scoring.nodes import (
    collect_predictions,
    live_metric_samples,
    live_metrics,
    registry_live_skill,
    score_predictions,
)
from rps_kedro.pipelines.training.metrics import qlike_losses
from tests.pipelines.live_scoring.conftest import (
    FRIDAY_CLOSE_BAR,
    MONDAY_OPEN_BAR,
    _bars,
    _forecast,
)


def test_each_forecast_is_scored_missing_or_pending(logged, bars, params):
    scored = score_predictions(collect_predictions(logged, params), bars, params)
    status = scored.set_index("request_id")["status"].to_dict()
    assert status == {"a": "scored", "b": "scored", "c": "missing", "d": "scored", "e": "pending"}
    targets = compute_targets(bars).set_index(["symbol", "timestamp"])
    weekend = scored.set_index("request_id").loc["d"]
    expected = targets.loc[("AAPL", FRIDAY_CLOSE_BAR)]
    assert weekend["target_log_return"] == pytest.approx(np.log(204.0 / 200.0))
    assert weekend["target_volatility"] == expected["target_volatility"]
    assert scored.set_index("request_id")[["target_log_return"]].loc[["c", "e"]].isna().all().all()


def test_a_closed_markets_bar_forecast_every_hour_counts_once(logged, params):
    weekend = {
        f"date=2026-03-07/hour={hour:02d}/scheduled-0000": lambda h=hour: pd.DataFrame(
            [
                _forecast("AAPL", FRIDAY_CLOSE_BAR, MONDAY_OPEN_BAR, request=f"s{h}")
                | {"source": "scheduled"}
            ]
        )
        for hour in range(3)
    }
    collected = collect_predictions({**logged, **weekend}, params)
    aapl = collected.loc[collected["symbol"] == "AAPL"]
    assert sorted(aapl["request_id"]) == ["d", "s0"]  # the HTTP request and one scheduled


def test_a_late_bar_turns_a_pending_forecast_into_a_scored_one(logged, bars, params):
    monday = [MONDAY_OPEN_BAR, MONDAY_OPEN_BAR + pd.Timedelta(hours=1)]
    late = _bars("BTC-USD", monday, [101.0, 101.3])
    before = score_predictions(collect_predictions(logged, params), bars, params)
    after = score_predictions(collect_predictions(logged, params), pd.concat([bars, late]), params)
    assert before.set_index("request_id").loc["e", "status"] == "pending"
    assert after.set_index("request_id").loc["e", "status"] == "scored"


def test_metrics_per_symbol_version_and_window_equal_a_hand_computation(logged, bars, params):
    scored = score_predictions(collect_predictions(logged, params), bars, params)
    metrics = live_metrics(scored, params).set_index(["symbol", "model_version", "window"])
    assert sorted(metrics.index) == [
        ("AAPL", "3", "1d"),
        ("AAPL", "3", "7d"),
        ("BTC-USD", "3", "1d"),
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
    scored = score_predictions(collect_predictions({}, params), bars, params)
    metrics = live_metrics(scored, params)
    assert scored.empty and metrics.empty and "return_skill_vs_persistence" in metrics.columns


def test_the_metrics_become_samples_with_low_cardinality_labels(logged, bars, params):
    scored = score_predictions(collect_predictions(logged, params), bars, params)
    metrics = live_metrics(scored, params)
    test_skill = {"3": {"return": 0.01, "volatility": 0.2}, "9": {"return": 0.5}}
    samples = live_metric_samples(metrics, scored.assign(source="scheduled"), test_skill)
    skill = samples.query("metric == 'rps_live_skill' and symbol == 'BTC-USD' and window == '7d'")
    row = metrics.query("symbol == 'BTC-USD' and model_version == '3' and window == '7d'").iloc[0]
    by_target = skill.query("model_version == '3'").set_index("target")["value"]
    assert by_target.to_dict() == {
        "return": row["return_skill_vs_persistence"],
        "volatility": row["volatility_skill_vs_har"],
    }
    assert set(samples.columns) == {
        "metric",
        "symbol",
        "model_version",
        "window",
        "target",
        "value",
    }
    newest = samples.query("metric == 'rps_live_newest_forecast_timestamp_seconds'")
    assert newest.set_index("symbol")["value"].to_dict() == {
        symbol: served.timestamp()
        for symbol, served in scored.groupby("symbol")["served_at"].max().items()
    }
    tested = samples.query("metric == 'rps_model_test_skill'")  # the scored versions' only
    assert tested.set_index(["model_version", "target"])["value"].to_dict() == {
        ("3", "return"): 0.01,
        ("3", "volatility"): 0.2,
    }
    assert (tested["symbol"] == "").all() and (tested["window"] == "").all()
    # 2 skills + 3 group metrics per group, 2 symbols' forecast times, version 3's 2 test skills
    assert len(samples) == len(metrics) * 5 + 2 + 2


def test_the_registry_gets_each_versions_metrics_and_weekly_skill_tags(logged, bars, params):
    scored = score_predictions(collect_predictions(logged, params), bars, params)
    metrics = live_metrics(scored, params)
    versions = registry_live_skill(metrics, scored, params)
    assert sorted(versions) == ["3", "4"]
    three = versions["3"]
    assert three["as_of"] == "2026-03-09T14:00:00+00:00"
    weekly = metrics.query("symbol == 'BTC-USD' and model_version == '3' and window == '7d'")
    expected = weekly["return_skill_vs_persistence"].iloc[0]
    assert three["metrics"]["7d.BTC-USD.return_skill_vs_persistence"] == expected
    assert three["tags"]["live_7d_return_skill.BTC-USD"] == f"{expected:.4f}"
    assert "1d.AAPL.scored" in three["metrics"]
    assert not any(name.startswith("live_1d") for name in three["tags"])
    assert sorted(three["figures"]) == [
        "plots/cumulative_skill_vs_baselines.png",
        "plots/volatility_predicted_vs_realised.png",
    ]
    symbols = [
        axis.get_title()
        for axis in three["figures"]["plots/volatility_predicted_vs_realised.png"].axes
    ]
    assert symbols == ["AAPL", "BTC-USD"]  # the week's scored forecasts of version 3
