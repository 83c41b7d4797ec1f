"""Modelling nodes on real simulated data: splits, backtest, selection, drift, promotion."""

import numpy as np
import pandas as pd
import pytest

from rps_kedro.core.bars import as_model_input, from_model_input
from rps_kedro.core.features import BarArrays, feature_columns
from rps_kedro.core.forecasters import Forecaster
from rps_kedro.datasets import PartitionedParquetDataset
from rps_kedro.pipelines.promotion.nodes import champion_context, decide_promotion
from rps_kedro.pipelines.training.nodes import (
    build_drift_reference,
    bundle_model,
    choose_for_target,
    evaluate_on_test,
    guard_against_baselines,
    predict_with_model,
    select_and_fit,
    select_inference_example,
    split_by_time,
    walk_forward_backtest,
)


def test_split_is_chronological_and_disjoint_per_symbol(model_input, splits):
    train, tuning, test = splits
    assert len(train) + len(tuning) + len(test) == len(model_input)
    for symbol, rows in model_input.groupby("symbol"):
        mine = [part[part["symbol"] == symbol] for part in splits]
        assert mine[0]["timestamp"].max() < mine[1]["timestamp"].min()
        assert mine[1]["timestamp"].max() < mine[2]["timestamp"].min()
        assert mine[2]["timestamp"].max() == rows["timestamp"].max()
        assert 0.1 < len(mine[2]) / len(rows) < 0.2, symbol


def test_beyond_max_fit_rows_train_and_tuning_are_a_sample_and_test_is_whole(
    model_input, parameters, splits
):
    params = {**parameters["modelling"]["split"], "max_fit_rows": 1000}
    train, tuning, test = split_by_time(model_input, params)
    assert len(train) + len(tuning) == 1000
    pd.testing.assert_frame_equal(test, splits[2])
    whole_train = splits[0]
    assert set(train["symbol"]) == set(whole_train["symbol"])
    assert train["timestamp"].dt.hour.nunique() == 24, "every hour of the day keeps its share"
    assert 0.7 < len(train) / 1000 / (len(whole_train) / (len(whole_train) + len(splits[1]))) < 1.3
    assert train.merge(whole_train, how="left", indicator=True)["_merge"].eq("both").all()
    again, _, _ = split_by_time(model_input, params)
    pd.testing.assert_frame_equal(train, again)


def test_split_of_a_partitioned_model_input_read_per_symbol_is_the_split_of_the_frame(
    model_input, parameters, tmp_path
):
    params = {**parameters["modelling"]["split"], "max_fit_rows": 1000}
    dataset = PartitionedParquetDataset(str(tmp_path / "model_input"), by_symbol=True)
    dataset.save(model_input)
    loaded = []
    loaders = {
        symbol: (lambda symbol=symbol, load=load: loaded.append(symbol) or load())
        for symbol, load in dataset.load().items()
    }
    from_partitions = split_by_time(loaders, params)
    assert loaded == sorted(model_input["symbol"].unique()), "each symbol read once, in turn"
    for mine, expected in zip(from_partitions, split_by_time(model_input, params), strict=True):
        pd.testing.assert_frame_equal(mine, expected, check_dtype=False)


def test_symbols_with_non_overlapping_histories_are_each_trained_and_tested(
    model_input, parameters
):
    middle = model_input["timestamp"].quantile(0.5)
    early = model_input[(model_input["symbol"] == "AAPL") & (model_input["timestamp"] < middle)]
    late = model_input[(model_input["symbol"] == "BTC-USD") & (model_input["timestamp"] > middle)]
    assert len(early) > 100 and len(late) > 500
    train, tuning, test = split_by_time(pd.concat([early, late]), parameters["modelling"]["split"])
    for part in (train, tuning, test):
        assert set(part["symbol"]) == {"AAPL", "BTC-USD"}


def test_walk_forward_refits_every_candidate_per_fold(splits, modelling_params, parameters):
    train, _, _ = splits
    report = walk_forward_backtest(train, modelling_params, parameters["features"])
    folds = pd.DataFrame(report["folds"])
    assert sorted(folds["fold"].unique()) == [0, 1]
    assert set(folds["model"]) == {"ridge", "gradient_boosting", "persistence", "har"}
    assert report["mean"]["persistence"]["return.skill_vs_persistence"] == 0
    assert (
        report["mean"]["har"]["volatility.qlike"]
        < report["mean"]["persistence"]["volatility.qlike"]
    ), "HAR beats persistence on volatility"


def _scores(tuning: dict[str, float], target: str = "volatility") -> dict:
    metric = "qlike" if target == "volatility" else "rmse"
    return {name: {target: {metric: value}} for name, value in tuning.items()}


def _backtest(per_fold: dict[str, list[float]], target: str = "volatility") -> dict:
    metric = "qlike" if target == "volatility" else "rmse"
    return {
        "folds": [
            {"fold": fold, "model": name, f"{target}.{metric}": value}
            for name, values in per_fold.items()
            for fold, value in enumerate(values)
        ]
    }


RULE = {"min_fold_win_share": 0.5}


def test_a_learned_model_is_served_only_when_it_beats_the_baselines_everywhere():
    backtest = _backtest({"persistence": [2, 2, 2], "har": [1, 1, 1], "ridge": [0.9, 0.9, 1.1]})
    chosen, reason = choose_for_target(
        "volatility", _scores({"persistence": 2, "har": 1, "ridge": 0.95}), backtest, RULE
    )
    assert chosen == "ridge" and "beat every baseline" in reason
    worse_on_tuning = _scores({"persistence": 2, "har": 1, "ridge": 1.01})
    assert choose_for_target("volatility", worse_on_tuning, backtest, RULE)[0] == "har"
    lucky_once = _backtest({"persistence": [2, 2, 2], "har": [1, 1, 1], "ridge": [0.5, 1.1, 1.1]})
    chosen, reason = choose_for_target(
        "volatility", _scores({"persistence": 2, "har": 1, "ridge": 0.9}), lucky_once, RULE
    )
    assert chosen == "har", "better on average but in only one fold of three"
    assert "no learned model beat the baselines" in reason


def test_the_best_baseline_on_tuning_is_served_when_nothing_learned_wins():
    backtest = _backtest({"persistence": [1, 1], "har": [1.2, 1.2], "ridge": [1.5, 1.5]})
    chosen, _ = choose_for_target(
        "volatility", _scores({"persistence": 0.8, "har": 0.9, "ridge": 1.5}), backtest, RULE
    )
    assert chosen == "persistence"


def test_selection_serves_baselines_unless_beaten_and_keeps_them_fitted(
    splits, modelling_params, parameters
):
    train, tuning, test = splits
    backtest = walk_forward_backtest(train, modelling_params, parameters["features"])
    forecaster, selection = select_and_fit(
        train, tuning, backtest, modelling_params, parameters["features"]
    )
    assert {"persistence", "har"} <= set(forecaster.models)
    assert set(forecaster.served.values()) <= set(forecaster.models)
    assert forecaster.feature_columns == feature_columns(parameters["features"])
    for target, metric in (("return", "rmse"), ("volatility", "qlike")):
        served = selection["served"][target]
        scores = selection["tuning"]
        assert scores[served][target][metric] <= min(
            scores[name][target][metric] for name in ("persistence", "har")
        )
    test_predictions, report = evaluate_on_test(forecaster, test, modelling_params)
    assert len(test_predictions) == len(test)
    assert set(report["pooled"]["metrics"]) == set(forecaster.models)
    assert set(report["by_symbol"]) == set(test["symbol"])
    dm = report["pooled"]["diebold_mariano"]["har"]["volatility"]["persistence"]
    assert dm["p_value"] < 0.05, "HAR is significantly better than persistence"
    guarded = guard_against_baselines(forecaster, report, modelling_params)
    pooled = report["pooled"]["metrics"]
    assert (
        pooled[guarded.served["return"]]["return"]["rmse"]
        <= pooled["persistence"]["return"]["rmse"]
    )
    assert (
        pooled[guarded.served["volatility"]]["volatility"]["qlike"]
        <= pooled["har"]["volatility"]["qlike"]
    )


def _metrics(return_rmse: float, volatility_qlike: float) -> dict:
    return {"return": {"rmse": return_rmse}, "volatility": {"qlike": volatility_qlike}}


def test_guard_replaces_a_selected_model_that_lost_to_its_baseline(modelling_params):
    selected = Forecaster([], {}, {"return": "ridge", "volatility": "ridge"}, {})
    baselines = {"persistence": _metrics(0.010, 0.9), "har": _metrics(0.010, 0.4)}
    lost = {"pooled": {"metrics": baselines | {"ridge": _metrics(0.011, 0.5)}}}
    guarded = guard_against_baselines(selected, lost, modelling_params)
    assert guarded.served == {"return": "persistence", "volatility": "har"}
    assert "lost to har on the test window" in guarded.reasons["volatility"]
    won = {"pooled": {"metrics": baselines | {"ridge": _metrics(0.009, 0.3)}}}
    assert guard_against_baselines(selected, won, modelling_params).served == selected.served


def test_drift_reference_holds_training_bounds_and_quantiles(splits, modelling_params, parameters):
    train, tuning, _ = splits
    reference = build_drift_reference(train, tuning, modelling_params, parameters["features"])
    window = pd.concat([train, tuning])
    rsi = reference["features"]["rsi_14"]
    assert rsi["lower"] == pytest.approx(window["rsi_14"].quantile(0.001))
    assert rsi["upper"] == pytest.approx(window["rsi_14"].quantile(0.999))
    assert set(reference["features"]) == set(feature_columns(parameters["features"]))
    assert reference["window"]["rows"] == len(window)


@pytest.fixture
def fitted(splits, modelling_params, parameters):
    """The selected forecaster, its drift reference and its test predictions."""
    train, tuning, test = splits
    backtest = walk_forward_backtest(train, modelling_params, parameters["features"])
    forecaster, _ = select_and_fit(
        train, tuning, backtest, modelling_params, parameters["features"]
    )
    reference = build_drift_reference(train, tuning, modelling_params, parameters["features"])
    return forecaster, reference


def test_inference_predicts_each_complete_bar_and_measures_drift(
    simulated_bars, splits, fitted, modelling_params, parameters
):
    _, _, test = splits
    forecaster, reference = fitted
    example = select_inference_example(
        simulated_bars, parameters["features"], modelling_params["inference"]
    )
    assert example["timestamp"].dt.tz is None, "MLflow signatures need naive (UTC) timestamps"
    model = bundle_model(forecaster, reference, example, parameters["features"])
    predictions = predict_with_model(model, example)
    assert (
        predictions.groupby("symbol").size().tolist()
        == [modelling_params["inference"]["example_predictions"]] * 2
    )
    overlap = test.merge(predictions[["symbol", "timestamp", "predicted_volatility"]])
    assert len(overlap) == 4, "the two newest bars per symbol have no target, so are not in test"
    expected = forecaster.predict(overlap)["predicted_volatility"]
    np.testing.assert_allclose(expected, overlap["predicted_volatility"], rtol=1e-6)
    last = predictions.iloc[-1]
    assert last["predicted_close"] == pytest.approx(
        last["close"] * np.exp(last["predicted_log_return"])
    )
    assert (predictions["prediction_for"] > predictions["timestamp"]).all()
    assert (predictions["out_of_range_share"] < 0.2).all()
    assert "clipped_targets" in predictions.columns
    bars = from_model_input(example)
    arrays = BarArrays.from_frame(bars)
    features = model.feature_matrix(arrays)
    rows = np.flatnonzero(~np.isnan(features).any(axis=1))
    drifted = model.predict_rows(arrays, rows, features[rows] * 50 + 10).to_frame()
    assert (drifted["out_of_range_share"] > 0.8).all()
    assert "rsi_14" in drifted["out_of_range_features"].iloc[0].split(",")
    assert as_model_input(bars)["timestamp"].equals(example["timestamp"])


def test_champion_context_is_counted_in_bars_per_symbol(simulated_bars, splits):
    _, _, test = splits
    context = champion_context(simulated_bars, test, 200)
    for symbol, rows in context.groupby("symbol"):
        first_test = test.loc[test["symbol"] == symbol, "timestamp"].min()
        assert (rows["timestamp"] < first_test).sum() == 200, symbol
        assert (
            rows["timestamp"].max()
            == simulated_bars.loc[simulated_bars["symbol"] == symbol, "timestamp"].max()
        )


NOISE = {"good": (0.1, 0.1), "bad_return": (-0.3, 0.1), "bad_volatility": (0.1, 1.5)}


def _predictions(test, name, noise, seed):
    """Forecasts of the test rows: the return as `noise[0]` times the outcome (0: persistence,
    negative: worse than it), the volatility off by a log-normal factor of spread `noise[1]`."""
    rng = np.random.default_rng(seed)
    return {
        f"{name}.predicted_log_return": noise[0] * test["target_log_return"],
        f"{name}.predicted_volatility": test["target_volatility"].clip(lower=1e-4)
        * np.exp(rng.normal(0, noise[1], len(test))),
        f"{name}.clipped_log_return": False,
        f"{name}.clipped_volatility": False,
    }


def _test_predictions(test, challenger_noise):
    """Per-model test predictions: persistence, a HAR-like baseline and the challenger (ridge)."""
    columns = test[["symbol", "timestamp", "close"]].assign(
        **_predictions(test, "persistence", (0.0, 0.0), 1),
        **_predictions(test, "har", (0.0, 0.5), 2),
        **_predictions(test, "ridge", challenger_noise, 3),
    )
    columns["persistence.predicted_log_return"] = 0.0
    columns["har.predicted_log_return"] = 0.0
    columns["persistence.predicted_volatility"] = test["garman_klass_volatility"]
    return columns


def _champion(test, noise):
    frame = _test_predictions(test, noise)
    return frame[["symbol", "timestamp"]].assign(
        predicted_log_return=frame["ridge.predicted_log_return"],
        predicted_volatility=frame["ridge.predicted_volatility"],
    )


def _decide(test, challenger, champion, params, served=None):
    forecaster = Forecaster([], {}, served or {"return": "ridge", "volatility": "ridge"}, {})
    forecaster.reasons.update({target: "test" for target in forecaster.served})
    champion_predictions = None if champion is None else _champion(test, champion)
    return decide_promotion(
        test,
        _test_predictions(test, challenger),
        champion_predictions,
        None if champion is None else {"version": 3},
        forecaster,
        params,
    )


def test_a_first_version_is_promoted_only_when_it_beats_the_baselines(splits, modelling_params):
    _, _, test = splits
    good = _decide(test, NOISE["good"], None, modelling_params)
    assert good["promote"] and "no champion yet" in good["reason"]
    bad = _decide(test, NOISE["bad_return"], None, modelling_params)
    assert not bad["promote"]
    assert bad["failed"] == ["return: rmse not worse than persistence"]
    worse_volatility = _decide(test, NOISE["bad_volatility"], None, modelling_params)
    assert worse_volatility["failed"] == ["volatility: qlike not worse than har"]


def test_a_loss_on_one_target_is_not_hidden_by_a_gain_on_the_other(splits, modelling_params):
    _, _, test = splits
    # The champion forecasts returns better; the challenger's volatility is far better.
    decision = _decide(test, (0.05, 0.05), (0.2, 0.6), modelling_params)
    assert not decision["promote"]
    assert decision["failed"] == ["return: rmse not worse than champion"]
    assert decision["checks"]["volatility"]["qlike not worse than champion"]
    dm = decision["diebold_mariano"]["challenger"]["volatility"]["champion"]
    assert dm["p_value"] < 0.01, "the volatility gain is significant, and still not enough"


def test_a_challenger_better_on_every_target_replaces_the_champion(splits, modelling_params):
    _, _, test = splits
    decision = _decide(test, (0.2, 0.1), (0.05, 0.6), modelling_params)
    assert decision["promote"], decision["reason"]
    assert decision["champion_version"] == 3


def test_a_first_version_losing_on_one_target_is_served_with_its_baseline(splits, modelling_params):
    _, _, test = splits
    predictions = _test_predictions(test, NOISE["bad_return"])
    from rps_kedro.pipelines.promotion.nodes import model_test_predictions  # noqa: PLC0415
    from rps_kedro.pipelines.training.nodes import compare_models  # noqa: PLC0415

    report = {
        "pooled": compare_models(
            test,
            {
                name: model_test_predictions(
                    predictions, dict.fromkeys(("return", "volatility"), name)
                )
                for name in ("ridge", "persistence", "har")
            },
            modelling_params,
        )
    }
    selected = Forecaster(
        [], {}, {"return": "ridge", "volatility": "ridge"}, {"return": "won", "volatility": "won"}
    )
    guarded = guard_against_baselines(selected, report, modelling_params)
    assert guarded.served == {"return": "persistence", "volatility": "ridge"}
    decision = decide_promotion(test, predictions, None, None, guarded, modelling_params)
    assert decision["promote"], decision["reason"]
    assert decision["served"]["return"]["model"] == "persistence"
    assert "lost to persistence" in decision["served"]["return"]["reason"]
