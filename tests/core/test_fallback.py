"""Refusing to extrapolate: beyond the out-of-range share of the settings, a forecast carries
the baseline's forecasts, flagged with the reason."""

import math

from rps_kedro.core.fallback import with_fallback

SETTINGS = {"max_out_of_range_share": 0.25, "baseline": "har"}
BASELINES = {
    "persistence_log_return": 0.0,
    "persistence_volatility": 0.004,
    "har_log_return": 0.0,
    "har_volatility": 0.006,
}


def prediction(share: float) -> dict:
    return {
        "close": 100.0,
        "predicted_close": 101.0,
        "predicted_log_return": math.log(1.01),
        "predicted_volatility": 0.02,
        "out_of_range_share": share,
        "clipped_targets": ["volatility"],
    }


def test_within_the_training_range_the_model_answers():
    served = with_fallback(prediction(0.25), BASELINES, **SETTINGS)
    assert served == {**prediction(0.25), "fallback": False, "fallback_reason": None}


def test_beyond_it_the_baseline_answers_and_says_why():
    served = with_fallback(prediction(0.4), BASELINES, **SETTINGS)
    assert served["fallback"] is True
    assert (served["predicted_log_return"], served["predicted_volatility"]) == (0.0, 0.006)
    assert served["predicted_close"] == 100.0 and served["clipped_targets"] == []
    assert served["fallback_reason"] == (
        "40% of the features are outside the training range (more than 25%): the har"
        " baseline's forecast, not the model's"
    )
    persistence = {**SETTINGS, "baseline": "persistence"}
    assert with_fallback(prediction(0.4), BASELINES, **persistence)["predicted_volatility"] == 0.004
