"""Modelling nodes on real simulated data: splits, backtest, selection, drift, promotion."""

import numpy as np
import pandas as pd
import pytest

from rps_kedro.bars import as_model_input, from_model_input
from rps_kedro.pipelines.features.engineering import compute_features, feature_columns
from rps_kedro.pipelines.modelling.nodes import (
    build_drift_reference,
    decide_promotion,
    evaluate_on_test,
    predict_next_hour,
    select_and_fit,
    select_inference_example,
    walk_forward_backtest,
)


def test_split_is_chronological_disjoint_and_the_test_window_is_latest(model_input, splits):
    train, validation, test = splits
    assert len(train) + len(validation) + len(test) == len(model_input)
    assert train["timestamp"].max() < validation["timestamp"].min()
    assert validation["timestamp"].max() < test["timestamp"].min()
    assert test["timestamp"].max() == model_input["timestamp"].max()
    assert 0.1 < len(test) / len(model_input) < 0.2


def test_walk_forward_refits_on_expanding_windows_with_baselines(
    splits, modelling_params, parameters
):
    train, _, _ = splits
    report = walk_forward_backtest(train, modelling_params, parameters["features"])
    folds = pd.DataFrame(report["folds"])
    assert sorted(folds["fold"].unique()) == [0, 1]
    assert set(folds["model"]) == {"ridge", "gradient_boosting", "persistence", "har"}
    starts = folds.groupby("fold")["test_start"].first()
    assert starts.iloc[0] < starts.iloc[1], "the second fold tests later, on a longer history"
    assert report["mean"]["persistence"]["return.skill_vs_persistence"] == 0


def test_selection_refits_the_best_per_target(splits, modelling_params, parameters):
    train, validation, test = splits
    forecaster, selection = select_and_fit(
        train, validation, modelling_params, parameters["features"]
    )
    assert set(selection["chosen"].values()) <= {"ridge", "gradient_boosting"}
    best = selection["chosen"]["volatility"]
    scores = selection["validation"]
    assert scores[best]["volatility"]["qlike"] == min(
        scores[name]["volatility"]["qlike"] for name in ("ridge", "gradient_boosting")
    )
    assert forecaster.feature_columns == feature_columns(parameters["features"])
    test_predictions, report = evaluate_on_test(
        forecaster, train, validation, test, modelling_params
    )
    assert len(test_predictions) == len(test)
    assert set(report["pooled"]) == {"challenger", "persistence", "har"}
    assert set(report["by_symbol"]) == set(test["symbol"])
    har, persistence = report["pooled"]["har"], report["pooled"]["persistence"]
    assert har["volatility"]["qlike"] < persistence["volatility"]["qlike"], (
        "HAR beats persistence on volatility"
    )
    assert abs(report["pooled"]["challenger"]["return"]["skill_vs_persistence"]) < 0.05, (
        "no magic on returns"
    )


def test_drift_reference_holds_training_bounds_and_quantiles(splits, modelling_params, parameters):
    train, validation, _ = splits
    reference = build_drift_reference(train, validation, modelling_params, parameters["features"])
    window = pd.concat([train, validation])
    rsi = reference["features"]["rsi_14"]
    assert rsi["lower"] == pytest.approx(window["rsi_14"].quantile(0.001))
    assert rsi["upper"] == pytest.approx(window["rsi_14"].quantile(0.999))
    assert set(reference["features"]) == set(feature_columns(parameters["features"]))
    assert reference["window"]["rows"] == len(window)


def test_inference_predicts_each_complete_bar_and_measures_drift(
    simulated_bars, splits, modelling_params, parameters
):
    train, validation, test = splits
    forecaster, _ = select_and_fit(train, validation, modelling_params, parameters["features"])
    reference = build_drift_reference(train, validation, modelling_params, parameters["features"])
    example = select_inference_example(
        simulated_bars, parameters["features"], modelling_params["inference"]
    )
    assert example["timestamp"].dt.tz is None, "MLflow signatures need naive (UTC) timestamps"
    bars = from_model_input(example)
    features = compute_features(bars, parameters["features"])
    predictions = predict_next_hour(
        forecaster, reference, bars, features, parameters["validation"]["calendar"]
    )
    assert (
        predictions.groupby("symbol").size().tolist()
        == [modelling_params["inference"]["example_predictions"]] * 2
    )
    overlap = test.merge(predictions[["symbol", "timestamp", "predicted_log_return"]])
    assert len(overlap) == 4, "the two newest bars per symbol have no target, so are not in test"
    expected = forecaster.predict(overlap)["predicted_log_return"]
    np.testing.assert_allclose(expected, overlap["predicted_log_return"], rtol=1e-6)
    last = predictions.iloc[-1]
    assert last["predicted_close"] == pytest.approx(
        last["close"] * np.exp(last["predicted_log_return"])
    )
    assert (predictions["prediction_for"] > predictions["timestamp"]).all()
    assert (predictions["out_of_range_share"] < 0.2).all()
    shifted = features.copy()
    columns = forecaster.feature_columns
    shifted[columns] = shifted[columns] * 50 + 10
    drifted = predict_next_hour(
        forecaster, reference, bars, shifted, parameters["validation"]["calendar"]
    )
    assert (drifted["out_of_range_share"] > 0.8).all()
    assert "rsi_14" in drifted["out_of_range_features"].iloc[0].split(",")
    assert as_model_input(bars)["timestamp"].equals(example["timestamp"])


def _decision(test, challenger_noise, champion_noise, modelling_params, seed=0):
    rng = np.random.default_rng(seed)

    def predictions(noise):
        return test[["symbol", "timestamp"]].assign(
            predicted_log_return=test["target_log_return"] * 0 + rng.normal(0, noise[0], len(test)),
            predicted_volatility=test["target_volatility"]
            * np.exp(rng.normal(0, noise[1], len(test))),
        )

    champion = None if champion_noise is None else {"version": 1}
    champion_predictions = pd.DataFrame(
        columns=["symbol", "timestamp", "predicted_log_return", "predicted_volatility"]
    )
    if champion_noise is not None:
        champion_predictions = predictions(champion_noise)
    return decide_promotion(
        test, predictions(challenger_noise), champion_predictions, champion, modelling_params
    )


def test_first_model_is_promoted_even_when_it_fails_checks(splits, modelling_params):
    _, _, test = splits
    decision = _decision(test, (0.05, 2.0), None, modelling_params)
    assert (
        decision["promote"]
        and "first model" in decision["reason"]
        and "though it failed" in decision["reason"]
    )


def test_worse_challenger_is_not_promoted_and_better_one_is(splits, modelling_params):
    _, _, test = splits
    worse = _decision(test, (0.0, 0.8), (0.0, 0.3), modelling_params)
    assert not worse["promote"]
    assert worse["checks"]["beats champion by >= 0.10%"] is False
    assert worse["mean_relative_improvement"] < 0
    better = _decision(test, (0.0, 0.1), (0.0, 0.5), modelling_params)
    assert better["promote"], better["reason"]
    assert better["reason"] == "all checks passed"


def test_challenger_worse_than_persistence_on_returns_is_not_promoted(splits, modelling_params):
    _, _, test = splits
    decision = _decision(test, (0.02, 0.1), (0.05, 0.5), modelling_params)
    assert not decision["promote"]
    assert "return rmse within 0.5% of persistence" in decision["reason"]
