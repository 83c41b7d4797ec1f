"""Training nodes: chronological splits, walk-forward backtest, selection, test evaluation,
drift reference and the model bundle."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from rps_kedro.core.bars import KEY_COLUMNS, as_model_input
from rps_kedro.core.drift import drift_reference
from rps_kedro.core.features import feature_columns, required_lookback
from rps_kedro.core.forecasters import (
    BASELINES,
    CLIPPED_COLUMNS,
    TARGETS,
    Forecaster,
    build_candidates,
    candidate_predictions,
    fit_candidate,
)
from rps_kedro.core.model import ForecastModel
from rps_kedro.core.progress import tracked
from rps_kedro.core.sampling import RowsBySymbol, UniformRowSample, rows_by_symbol
from rps_kedro.pipelines.training.metrics import (
    VolatilityFloor,
    diebold_mariano,
    forecast_metrics,
    target_losses,
)

TARGET_METRIC = {"return": "rmse", "volatility": "qlike"}  # lower is better for both
IN_TUNING = "in_tuning_split"  # split_by_time's temporary column: a fit row's split

logger = logging.getLogger(__name__)


def symbol_positions(frame: pd.DataFrame) -> np.ndarray:
    """Where each row sits in its symbol's own history, from 0 (first row) towards 1 (last)."""
    order = frame.groupby("symbol", sort=False)["timestamp"]
    return ((order.rank(method="first") - 1) / order.transform("size")).to_numpy()


def split_by_time(
    model_input: pd.DataFrame | RowsBySymbol, params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train / tuning / test per symbol by its own history (test = its latest rows); never
    shuffled, so every symbol is trained, validated and tested whatever its history's dates.
    Beyond `max_fit_rows` train and tuning rows, a seeded uniform sample of them (every hour and
    every symbol keep their share; the test rows are never sampled). The symbols are read one at
    a time: only the test rows and the sample are ever held."""
    test_start = 1 - params["test_fraction"]
    tuning_start = test_start - params["tuning_fraction"]
    fitted = UniformRowSample(params.get("max_fit_rows"), params["sample_seed"])
    tests = []
    for _, load in tracked(list(rows_by_symbol(model_input).items()), "split symbols", logger):
        rows = load()
        position = symbol_positions(rows)
        tests.append(rows[position >= test_start])
        fit = position < test_start
        fitted.offer(rows[fit].assign(**{IN_TUNING: position[fit] >= tuning_start}))
    if not tests:
        raise ValueError("model_input holds no rows: run the features pipeline first")
    sample = fitted.rows()
    if len(sample) < fitted.offered:
        logger.info(
            "Fitting on a sample of %d of %d train and tuning rows", len(sample), fitted.offered
        )
    in_tuning = sample.pop(IN_TUNING)
    return (
        sample[~in_tuning].reset_index(drop=True),
        sample[in_tuning].reset_index(drop=True),
        pd.concat(tests, ignore_index=True),
    )


def _floor(params: dict[str, Any]) -> VolatilityFloor:
    return VolatilityFloor.from_params(params["volatility_floor"])


def _flatten(metrics: dict[str, dict[str, float]]) -> dict[str, float]:
    return {
        f"{target}.{name}": value
        for target, values in metrics.items()
        for name, value in values.items()
    }


def walk_forward_backtest(
    train: pd.DataFrame, params: dict[str, Any], features_params: dict[str, Any]
) -> dict[str, Any]:
    """Expanding-window folds over each symbol's training rows, every candidate (baselines
    included) refit per fold and scored on the fold's next rows."""
    folds = params["backtest"]["folds"]
    cuts = np.linspace(params["backtest"]["initial_train_fraction"], 1.0, folds + 1)
    position = symbol_positions(train)
    columns = feature_columns(features_params)
    results = []
    bounds = list(enumerate(zip(cuts[:-1], cuts[1:], strict=True)))
    for fold, (start, end) in tracked(bounds, "backtest folds", logger):
        fold_train = train[position < start]
        fold_test = train[(position >= start) & (position < end)]
        for name, candidate in build_candidates(params, columns).items():
            predictions = candidate_predictions(
                fit_candidate(candidate, fold_train, params["fit_threads"]), fold_test
            )
            metrics = forecast_metrics(fold_test, predictions, _floor(params))
            results.append(
                {"fold": fold, "model": name, "rows": len(fold_test), **_flatten(metrics)}
            )
    table = pd.DataFrame(results)
    mean = table.drop(columns=["fold", "rows"]).groupby("model", sort=False).mean()
    return {"folds": results, "mean": mean.to_dict(orient="index")}


def _fold_scores(backtest: dict[str, Any], target: str) -> pd.DataFrame:
    """The target's decisive metric per fold (rows) and model (columns)."""
    key = f"{target}.{TARGET_METRIC[target]}"
    table = pd.DataFrame(backtest["folds"])
    return table.pivot(index="fold", columns="model", values=key)


def choose_for_target(
    target: str,
    tuning_scores: dict[str, dict[str, dict[str, float]]],
    backtest: dict[str, Any],
    rule: dict[str, Any],
) -> tuple[str, str]:
    """The candidate served for one target, and why.

    The best baseline on the tuning split is served unless a learned model beats every baseline on
    the mean of the backtest folds, in at least `min_fold_win_share` of the folds, and on
    the tuning split; then the best such learned model on it is."""
    metric = TARGET_METRIC[target]
    on_tuning = {name: scores[target][metric] for name, scores in tuning_scores.items()}
    folds = _fold_scores(backtest, target)
    best_baseline_folds = folds[list(BASELINES)].min(axis=1)
    best_baseline = min(BASELINES, key=on_tuning.__getitem__)
    eligible = {
        name: score
        for name, score in on_tuning.items()
        if name not in BASELINES
        and folds[name].mean() < best_baseline_folds.mean()
        and (folds[name] < best_baseline_folds).mean() >= rule["min_fold_win_share"]
        and score < on_tuning[best_baseline]
    }
    if not eligible:
        return best_baseline, (
            f"no learned model beat the baselines on {metric} in the backtest and on the tuning split;"
            f" {best_baseline} is the best baseline on the tuning split"
        )
    chosen = min(eligible, key=eligible.__getitem__)
    return chosen, (
        f"{chosen} beat every baseline on {metric} on the backtest folds and on the tuning split"
        f" ({eligible[chosen]:.6g} vs {best_baseline} {on_tuning[best_baseline]:.6g})"
    )


def select_and_fit(
    train: pd.DataFrame,
    tuning: pd.DataFrame,
    backtest: dict[str, Any],
    params: dict[str, Any],
    features_params: dict[str, Any],
) -> tuple[Forecaster, dict[str, Any]]:
    """Score every candidate on the tuning split, choose per target by the selection rule, refit the
    chosen ones and both baselines on train + tuning."""
    columns = feature_columns(features_params)
    floor = _floor(params)
    scores = {
        name: forecast_metrics(
            tuning,
            candidate_predictions(fit_candidate(candidate, train, params["fit_threads"]), tuning),
            floor,
        )
        for name, candidate in build_candidates(params, columns).items()
    }
    choices = {
        target: choose_for_target(target, scores, backtest, params["selection"])
        for target in TARGETS
    }
    served = {target: name for target, (name, _) in choices.items()}
    history = pd.concat([train, tuning], ignore_index=True)
    candidates = build_candidates(params, columns)
    models = {
        name: fit_candidate(candidates[name], history, params["fit_threads"])
        for name in candidates
        if name in BASELINES or name in served.values()
    }
    forecaster = Forecaster(
        columns, models, served, {target: reason for target, (_, reason) in choices.items()}
    )
    return forecaster, {"tuning": scores, "served": served, "reasons": forecaster.reasons}


def data_window(rows: pd.DataFrame) -> dict[str, Any]:
    """The first and last timestamps and the row count of `rows`."""
    return {
        "start": str(rows["timestamp"].min()),
        "end": str(rows["timestamp"].max()),
        "rows": len(rows),
    }


def compare_models(
    rows: pd.DataFrame,
    predictions: dict[str, pd.DataFrame],
    params: dict[str, Any],
    rivals: tuple[str, ...] = BASELINES,
) -> dict[str, Any]:
    """Metrics of every model on the same rows, each model's Diebold-Mariano test against each
    rival per target (p-value small when the model's loss is lower), and clip counts."""
    floor = _floor(params)
    losses = {name: target_losses(rows, frame, floor) for name, frame in predictions.items()}
    lags = params["diebold_mariano_lags"]
    return {
        "metrics": {
            name: forecast_metrics(rows, frame, floor) for name, frame in predictions.items()
        },
        "diebold_mariano": {
            name: {
                target: {
                    rival: diebold_mariano(losses[name][target], losses[rival][target], lags)
                    for rival in rivals
                    if rival in losses and rival != name
                }
                for target in TARGETS
            }
            for name in predictions
        },
        "clipped": {
            name: {target: int(frame[CLIPPED_COLUMNS[target]].sum()) for target in TARGETS}
            for name, frame in predictions.items()
            if set(CLIPPED_COLUMNS.values()) <= set(frame.columns)
        },
    }


def _by_symbol(
    rows: pd.DataFrame, predictions: dict[str, pd.DataFrame], params: dict[str, Any]
) -> dict[str, Any]:
    return {
        symbol: {"window": data_window(part)}
        | compare_models(
            part, {name: frame.loc[part.index] for name, frame in predictions.items()}, params
        )
        for symbol, part in rows.groupby("symbol")
    }


def evaluate_on_test(
    forecaster: Forecaster, test: pd.DataFrame, params: dict[str, Any]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every fitted candidate (the baselines among them) on the test window, pooled and per
    symbol; the predictions of each, one column pair per model."""
    predictions = {name: forecaster.predict_with(name, test) for name in forecaster.models}
    report = {
        "window": data_window(test),
        "pooled": compare_models(test, predictions, params),
        "by_symbol": _by_symbol(test, predictions, params),
    }
    columns = [test[KEY_COLUMNS + ["close"]]]
    for name, frame in predictions.items():
        columns.append(frame.add_prefix(f"{name}."))
    return pd.concat(columns, axis=1), report


def guard_against_baselines(
    forecaster: Forecaster, test_report: dict[str, Any], params: dict[str, Any]
) -> Forecaster:
    """Serve the target's reference baseline (return: persistence, volatility: HAR) wherever
    the selected model lost to it on the test window: what is served never loses to it there."""
    pooled = test_report["pooled"]["metrics"]
    guarded = forecaster
    for target, reference in params["selection"]["reference_baseline"].items():
        metric, served = TARGET_METRIC[target], forecaster.served[target]
        served_score, reference_score = (
            pooled[served][target][metric],
            pooled[reference][target][metric],
        )
        if served_score > reference_score:
            guarded = guarded.serving(
                target,
                reference,
                f"{served} was selected but lost to {reference} on the test window"
                f" ({metric} {served_score:.6g} > {reference_score:.6g}): {reference} is served",
            )
    return guarded


def build_drift_reference(
    train: pd.DataFrame,
    tuning: pd.DataFrame,
    params: dict[str, Any],
    features_params: dict[str, Any],
) -> dict[str, Any]:
    """Per-feature bounds and quantiles of the training window (train + tuning)."""
    return drift_reference(
        pd.concat([train, tuning], ignore_index=True),
        feature_columns(features_params),
        params["drift"]["quantiles"],
        params["drift"]["bounds"],
    )


def select_inference_example(
    primary_bars: pd.DataFrame, features_params: dict[str, Any], params: dict[str, Any]
) -> pd.DataFrame:
    """The latest bars per symbol, enough for `example_predictions` predictions each."""
    length = required_lookback(features_params) + params["example_predictions"] - 1
    symbols = primary_bars["symbol"].drop_duplicates().head(params["example_symbols"])
    recent = primary_bars[primary_bars["symbol"].isin(symbols)].groupby("symbol").tail(length)
    return as_model_input(recent.reset_index(drop=True))


def bundle_model(
    forecaster: Forecaster,
    drift_reference: dict[str, Any],
    example_bars: pd.DataFrame,
    features_params: dict[str, Any],
) -> ForecastModel:
    """The model as one versioned object: what serving loads and the inference pipeline calls."""
    return ForecastModel.build(forecaster, features_params, drift_reference, example_bars)


def predict_with_model(model: ForecastModel, bars: pd.DataFrame) -> pd.DataFrame:
    """The logged model's only step: the bundle's predictions for the given bars."""
    return model.predict(bars)
