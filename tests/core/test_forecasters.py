"""Candidates and baselines share one interface; each learns what it should."""

import numpy as np
import pandas as pd
import pytest

from rps_kedro.core.forecasters import (
    CurrentVolatility,
    Forecaster,
    LearnedTarget,
    LogHar,
    NoChange,
    VolatilityFloor,
    build_candidates,
    candidate_predictions,
    fit_candidate,
    make_estimator,
)

FLOOR = VolatilityFloor("vol_week", 0.1, 1e-12)
HAR_COMPONENTS = ["vol_bar", "vol_day", "vol_week"]
TRUE_HAR = {"vol_bar": 0.35, "vol_day": 0.3, "vol_week": 0.25}
TRUE_SLOT_EFFECTS = {0: -0.6, 1: -0.3, 2: -0.45}


def _simulated_har(rows: int = 6000, seed: int = 0) -> pd.DataFrame:
    """Log volatilities following a HAR with known coefficients and an intraday pattern."""
    rng = np.random.default_rng(seed)
    log_components = rng.normal(-5, 0.4, (rows, 3))
    slot = rng.integers(0, 3, rows)
    log_target = (
        log_components @ np.array(list(TRUE_HAR.values()))
        + np.vectorize(TRUE_SLOT_EFFECTS.get)(slot)
        + rng.normal(0, 0.2, rows)
    )
    frame = pd.DataFrame(np.exp(log_components), columns=HAR_COMPONENTS)
    return frame.assign(
        is_crypto=0.0,
        session_hour=slot.astype(float),
        target_volatility=np.exp(log_target),
        target_log_return=rng.normal(0, 0.01, rows),
    )


def test_log_har_recovers_known_coefficients_and_the_intraday_pattern():
    frame = _simulated_har()
    har = LogHar(HAR_COMPONENTS, ["is_crypto", "session_hour"], FLOOR).fit(frame)
    for component, coefficient in TRUE_HAR.items():
        assert har.coefficient(component) == pytest.approx(coefficient, abs=0.02)
    for slot, effect in TRUE_SLOT_EFFECTS.items():
        assert har.slot_effects[float(slot)] == pytest.approx(effect, abs=0.15)
    assert har.smearing == pytest.approx(np.exp(0.2**2 / 2), abs=0.01), "lognormal bias"
    predicted = har.predict(frame)
    assert np.mean(frame["target_volatility"]) == pytest.approx(np.mean(predicted), rel=0.02)
    unseen = frame.head(3).assign(session_hour=9.0)
    assert np.isfinite(har.predict(unseen)).all(), "an hour unseen in training still forecasts"


def test_one_flat_bar_does_not_collapse_the_har_forecast():
    frame = _simulated_har()
    har = LogHar(HAR_COMPONENTS, ["is_crypto", "session_hour"], FLOOR).fit(frame)
    row = frame.head(1)
    flat = row.assign(vol_bar=0.0)
    ratio = har.predict(flat)[0] / har.predict(row)[0]
    assert 0.3 < ratio < 1, "the floor (10% of the weekly level) bounds a zero bar's effect"


def test_persistence_predicts_zero_return_and_the_current_volatility():
    frame = _simulated_har(10)
    assert (NoChange().fit(frame).predict(frame) == 0).all()
    assert CurrentVolatility("vol_bar").predict(frame).tolist() == frame["vol_bar"].tolist()


def test_learned_forecasts_are_clipped_to_the_training_range_and_flagged():
    frame = _simulated_har()
    model = {
        "return": LearnedTarget(
            "return", HAR_COMPONENTS, make_estimator({"kind": "ridge", "alpha": 1.0}), FLOOR, (0, 1)
        ),
        "volatility": LearnedTarget(
            "volatility",
            HAR_COMPONENTS,
            make_estimator({"kind": "ridge", "alpha": 1.0}),
            FLOOR,
            (0.001, 0.999),
        ),
    }
    fitted = fit_candidate(model, frame, threads=1)
    low, high = fitted["volatility"].bounds
    assert low == pytest.approx(frame["target_volatility"].quantile(0.001), rel=0.01)
    assert high == pytest.approx(frame["target_volatility"].quantile(0.999), rel=0.01)
    crash = frame.head(5).assign(vol_bar=1.0, vol_day=1.0, vol_week=1.0)
    assert (fitted["volatility"].predict(crash) > high).all(), "unclipped, it extrapolates"
    predictions = candidate_predictions(fitted, crash)
    assert (predictions["predicted_volatility"] == high).all()
    assert predictions["clipped_volatility"].all()
    normal = candidate_predictions(fitted, frame.iloc[100:200])
    assert normal["clipped_volatility"].mean() < 0.05


def test_candidates_are_baselines_first_and_unknown_kinds_are_rejected(parameters):
    candidates = build_candidates(parameters["modelling"], ["signal"])
    assert list(candidates)[:2] == ["persistence", "har"]
    assert {"ridge", "gradient_boosting"} <= set(candidates)
    assert isinstance(candidates["har"]["return"], NoChange)
    with pytest.raises(ValueError, match="unknown estimator kind"):
        make_estimator({"kind": "magic"})


def test_forecaster_serves_each_target_from_its_model_and_can_fall_back():
    frame = _simulated_har(500)
    har = LogHar(HAR_COMPONENTS, ["is_crypto", "session_hour"], FLOOR)
    models = {
        "persistence": fit_candidate(
            {"return": NoChange(), "volatility": CurrentVolatility("vol_bar")}, frame, 1
        ),
        "har": fit_candidate({"return": NoChange(), "volatility": har}, frame, 1),
    }
    forecaster = Forecaster(
        HAR_COMPONENTS, models, {"return": "har", "volatility": "persistence"}, {}
    )
    served = forecaster.predict(frame)
    assert served["predicted_volatility"].tolist() == frame["vol_bar"].tolist()
    fallback = forecaster.serving("volatility", "har", "lost to HAR")
    assert np.allclose(fallback.predict(frame)["predicted_volatility"], har.predict(frame))
    assert fallback.reasons == {"volatility": "lost to HAR"}
    assert forecaster.served["volatility"] == "persistence", "the original is unchanged"
