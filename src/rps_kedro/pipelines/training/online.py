"""The promotion rule, backtested (as qlib's online simulation does): replay "retrain every
`retrain_every_hours`, promote by the rule" over a history, serve the champion of each moment
on the next period's rows, and score the served sequence against the naive forecasts.

Each retrain runs the modelling nodes themselves (per-symbol splits of the rows known at that
time, walk-forward backtest, selection, test-window guard, per-target promotion against the
current champion), so what is measured is the rule as configured, not a re-implementation.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from rps_kedro.core.bars import KEY_COLUMNS
from rps_kedro.core.forecasters import BASELINES, PREDICTION_COLUMNS, Forecaster
from rps_kedro.pipelines.promotion.nodes import decide_promotion
from rps_kedro.pipelines.training.metrics import skill
from rps_kedro.pipelines.training.nodes import (
    compare_models,
    evaluate_on_test,
    guard_against_baselines,
    select_and_fit,
    split_by_time,
    walk_forward_backtest,
)

logger = logging.getLogger(__name__)


def retrain_times(model_input: pd.DataFrame, simulation: dict[str, Any]) -> list[pd.Timestamp]:
    """Retrain moments: every `retrain_every_hours` from the end of the warm-up share of time."""
    first, last = model_input["timestamp"].min(), model_input["timestamp"].max()
    start = first + (last - first) * simulation["warmup_fraction"]
    step = pd.Timedelta(hours=simulation["retrain_every_hours"])
    return list(pd.date_range(start.ceil("h"), last, freq=step))


def known_at(model_input: pd.DataFrame, moment: pd.Timestamp) -> pd.DataFrame:
    """Rows whose target bar had closed by `moment` (a row's target is its next bar)."""
    next_bar_end = model_input.groupby("symbol")["timestamp"].shift(-1) + pd.Timedelta(hours=1)
    return model_input[next_bar_end <= moment].reset_index(drop=True)


def retrain(
    history: pd.DataFrame,
    champion: Forecaster | None,
    version: int,
    params: dict[str, Any],
    features_params: dict[str, Any],
) -> tuple[Forecaster, dict[str, Any], dict[str, Any]]:
    """One training run on `history` (the modelling nodes, in the pipeline's order): the new
    forecaster, the promotion decision against `champion` (None: a first version) and the
    test report."""
    train, tuning, test = split_by_time(history, params["split"])
    backtest = walk_forward_backtest(train, params, features_params)
    selected, _ = select_and_fit(train, tuning, backtest, params, features_params)
    test_predictions, report = evaluate_on_test(selected, test, params)
    forecaster = guard_against_baselines(selected, report, params)
    champion_predictions = None
    if champion is not None:
        champion_predictions = test[KEY_COLUMNS].join(champion.predict(test))
    decision = decide_promotion(
        test,
        test_predictions,
        champion_predictions,
        None if champion is None else {"version": version},
        forecaster,
        params,
    )
    return forecaster, decision, report


def _served_rows(
    rows: pd.DataFrame, champion: Forecaster, version: int, latest: Forecaster
) -> pd.DataFrame:
    """The champion's forecasts of `rows`, and the naive forecasts as refit by the latest
    retrain (promoted or not): what a plain "refit the baselines on schedule" would serve."""
    served = rows[KEY_COLUMNS].join(champion.predict(rows))
    served["version"] = version
    for target, column in PREDICTION_COLUMNS.items():
        served[f"{target}_model"] = champion.served[target]
        for name in BASELINES:
            served[f"{name}.{column}"] = latest.predict_with(name, rows)[column].to_numpy()
    return served


def simulate_promotion(
    model_input: pd.DataFrame,
    params: dict[str, Any],
    features_params: dict[str, Any],
    simulation: dict[str, Any],
) -> dict[str, Any]:
    """Replay scheduled retraining with the promotion rule; score what was served."""
    moments = retrain_times(model_input, simulation)
    champion, version, served, events = None, 0, [], []
    for moment, following in zip(moments, [*moments[1:], None], strict=True):
        candidate, decision, _ = retrain(
            known_at(model_input, moment), champion, version, params, features_params
        )
        if decision["promote"]:
            champion, version = candidate, version + 1
        events.append(
            {
                "at": str(moment),
                "promoted": decision["promote"],
                "failed": decision["failed"],
                "served": {t: s["model"] for t, s in decision["served"].items()},
                "champion_version": version,
            }
        )
        logger.info("retrain at %s: %s", moment, decision["reason"])
        upcoming = model_input["timestamp"] >= moment
        if following is not None:
            upcoming &= model_input["timestamp"] < following
        if champion is not None and upcoming.any():
            served.append(_served_rows(model_input[upcoming], champion, version, candidate))
    return score_served(model_input, pd.concat(served, ignore_index=True), events, params)


def _switches(events: list[dict[str, Any]], target: str) -> int:
    """How often the served model of a target changed between consecutive champions."""
    champions = [event["served"][target] for event in events if event["promoted"]]
    return int(sum(a != b for a, b in zip(champions, champions[1:], strict=False)))


def score_served(
    model_input: pd.DataFrame,
    served: pd.DataFrame,
    events: list[dict[str, Any]],
    params: dict[str, Any],
) -> dict[str, Any]:
    """The served sequence vs persistence and HAR (refit at every retrain), pooled and per
    symbol, with the retrain, promotion and switch counts."""
    rows = served[KEY_COLUMNS].merge(model_input, on=KEY_COLUMNS, how="left")
    predictions = {"served": served} | {
        name: served[KEY_COLUMNS].assign(
            **{column: served[f"{name}.{column}"] for column in PREDICTION_COLUMNS.values()}
        )
        for name in BASELINES
    }
    pooled = compare_models(rows, predictions, params)
    by_symbol = {
        symbol: compare_models(
            part, {name: frame.loc[part.index] for name, frame in predictions.items()}, params
        )
        for symbol, part in rows.groupby("symbol")
    }
    return {
        "window": {
            "start": str(rows["timestamp"].min()),
            "end": str(rows["timestamp"].max()),
            "rows": len(rows),
        },
        "retrains": len(events),
        "promotions": int(sum(event["promoted"] for event in events)),
        "switches": {target: _switches(events, target) for target in PREDICTION_COLUMNS},
        "served_share": {
            target: served[f"{target}_model"].value_counts(normalize=True).round(4).to_dict()
            for target in PREDICTION_COLUMNS
        },
        "pooled": _summary(pooled),
        "by_symbol": {symbol: _summary(scores) for symbol, scores in by_symbol.items()},
        "events": events,
    }


def _summary(scores: dict[str, Any]) -> dict[str, Any]:
    """Served vs baselines on each target's decisive metric, with the DM p-values."""
    metrics, tests = scores["metrics"], scores["diebold_mariano"]["served"]
    return {
        "return_rmse": {name: metrics[name]["return"]["rmse"] for name in metrics},
        "volatility_qlike": {name: metrics[name]["volatility"]["qlike"] for name in metrics},
        "return_skill_vs_persistence": metrics["served"]["return"]["skill_vs_persistence"],
        "volatility_qlike_skill_vs_har": skill(
            metrics["served"]["volatility"]["qlike"], metrics["har"]["volatility"]["qlike"]
        ),
        "dm_p_return_vs_persistence": tests["return"]["persistence"]["p_value"],
        "dm_p_volatility_vs_har": tests["volatility"]["har"]["p_value"],
        "zero_range_share": metrics["served"]["volatility"]["zero_range_share"],
        "clipped": scores["clipped"].get("served"),
    }
