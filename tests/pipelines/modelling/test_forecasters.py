"""Candidates and baselines share one interface; each learns what it should."""

import numpy as np
import pandas as pd
import pytest

from rps_kedro.pipelines.modelling.forecasters import (
    HarForecaster,
    PersistenceForecaster,
    RegressionForecaster,
    build_candidates,
    make_estimator,
)


def _synthetic(rows: int = 4000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=rows)
    vol_1h = np.exp(rng.normal(-5, 0.3, rows))
    return pd.DataFrame(
        {
            "signal": signal,
            "noise": rng.normal(size=rows),
            "vol_1h": vol_1h,
            "vol_24h": vol_1h * np.exp(rng.normal(0, 0.1, rows)),
            "target_log_return": 0.002 * signal + rng.normal(0, 0.0005, rows),
            "target_volatility": vol_1h * np.exp(rng.normal(0, 0.05, rows)),
        }
    )


def test_regression_forecaster_learns_a_linear_signal_and_positive_volatility():
    frame = _synthetic()
    model = RegressionForecaster(
        ["signal", "noise", "vol_1h"],
        make_estimator({"kind": "ridge", "alpha": 1.0}),
        make_estimator({"kind": "hist_gradient_boosting", "max_iter": 50}),
        1e-9,
    ).fit(frame.iloc[:3000])
    predicted = model.predict(frame.iloc[3000:])
    assert (
        np.corrcoef(predicted["predicted_log_return"], frame["target_log_return"].iloc[3000:])[0, 1]
        > 0.9
    )
    assert (predicted["predicted_volatility"] > 0).all()
    assert model.volatility_smearing == pytest.approx(1, abs=0.01)


def test_persistence_predicts_zero_return_and_the_current_volatility():
    frame = _synthetic(10)
    predicted = PersistenceForecaster("vol_1h").fit(frame).predict(frame)
    assert (predicted["predicted_log_return"] == 0).all()
    assert predicted["predicted_volatility"].tolist() == frame["vol_1h"].tolist()


def test_har_forecasts_volatility_from_its_components():
    frame = _synthetic()
    har = HarForecaster(["vol_1h", "vol_24h"], 1e-9).fit(frame)
    predicted = har.predict(frame)
    assert (predicted["predicted_log_return"] == 0).all()
    error = np.log(predicted["predicted_volatility"] / frame["target_volatility"])
    assert error.std() < 0.1


def test_candidates_include_both_baselines_and_reject_unknown_kinds(parameters):
    candidates = build_candidates(parameters["modelling"], ["signal"])
    assert {"ridge", "gradient_boosting", "persistence", "har"} <= set(candidates)
    with pytest.raises(ValueError, match="unknown estimator kind"):
        make_estimator({"kind": "magic"})
