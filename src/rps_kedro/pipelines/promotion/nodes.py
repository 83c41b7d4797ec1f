"""Promotion: the registry's champion against the challenger on the same test rows; promote only
when, for every target, the challenger is not worse than its reference baseline and the champion."""

from __future__ import annotations

from typing import Any

import pandas as pd

from rps_kedro.core.bars import KEY_COLUMNS, as_model_input
from rps_kedro.core.forecasters import (
    BASELINES,
    CLIPPED_COLUMNS,
    PREDICTION_COLUMNS,
    TARGETS,
    Forecaster,
)
from rps_kedro.pipelines.training.nodes import TARGET_METRIC, compare_models, data_window


def champion_context(
    primary_bars: pd.DataFrame, test: pd.DataFrame, context_bars: int
) -> pd.DataFrame:
    """Each symbol's bars from `context_bars` bars before its first test row to its last one."""
    bars = primary_bars.sort_values(KEY_COLUMNS, ignore_index=True)
    starts = test.groupby("symbol")["timestamp"].min()
    first_test = bars["symbol"].map(starts)
    position = bars.groupby("symbol").cumcount()
    test_position = position.where(bars["timestamp"] >= first_test).groupby(bars["symbol"]).min()
    begin = bars["symbol"].map(test_position - context_bars)
    return bars[first_test.notna() & (position >= begin)].reset_index(drop=True)


def predict_with_champion(
    champion: Any, primary_bars: pd.DataFrame, test: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    """The current champion's predictions for every test row (empty when there is none), given
    `champion_context_bars` bars of each symbol before its test window for the lookback."""
    columns = KEY_COLUMNS + list(PREDICTION_COLUMNS.values())
    if champion is None:
        return pd.DataFrame(columns=columns)
    bars = champion_context(primary_bars, test, params["champion_context_bars"])
    predictions = champion["model"].predict(as_model_input(bars))[columns]
    covered = test[KEY_COLUMNS].merge(predictions, on=KEY_COLUMNS, how="left")
    missing = covered[columns[-1]].isna()
    if missing.any():
        symbols = sorted(covered.loc[missing, "symbol"].unique())
        raise ValueError(
            f"the champion forecast no value for {int(missing.sum())} of {len(test)} test rows"
            f" ({', '.join(symbols)}): raise modelling.champion_context_bars so every test row"
            " has the champion's lookback"
        )
    return covered


def model_test_predictions(test_predictions: pd.DataFrame, served: dict[str, str]) -> pd.DataFrame:
    """One model's forecast of each test row (per target: `served` names the model), read
    from the per-model columns of the test predictions."""
    columns = {
        column: test_predictions[f"{served[target]}.{column}"]
        for target in TARGETS
        for column in (PREDICTION_COLUMNS[target], CLIPPED_COLUMNS[target])
    }
    return test_predictions[KEY_COLUMNS].assign(**columns)


def promotion_checks(
    scores: dict[str, Any], references: dict[str, str], champion: bool, tolerance: dict[str, float]
) -> dict[str, dict[str, bool]]:
    """Per target: is the challenger not worse than its reference baseline and the champion?"""
    checks: dict[str, dict[str, bool]] = {}
    for target, metric in TARGET_METRIC.items():
        mine = scores["metrics"]["challenger"][target][metric]
        rivals = {references[target]: 0.0} | ({"champion": tolerance[target]} if champion else {})
        checks[target] = {
            f"{metric} not worse than {rival}": bool(
                mine <= scores["metrics"][rival][target][metric] * (1 + allowed)
            )
            for rival, allowed in rivals.items()
        }
    return checks


def decide_promotion(
    test: pd.DataFrame,
    test_predictions: pd.DataFrame,
    champion_predictions: pd.DataFrame,
    champion: dict[str, Any] | None,
    forecaster: Forecaster,
    params: dict[str, Any],
) -> dict[str, Any]:
    """Promote only when, on every test row and for EACH target, the challenger (as served) is
    not worse than the target's reference baseline and than the champion; the first version too."""
    promotion = params["promotion"]
    references = params["selection"]["reference_baseline"]
    predictions = {
        "challenger": model_test_predictions(test_predictions, forecaster.served),
        **{
            name: model_test_predictions(test_predictions, dict.fromkeys(TARGETS, name))
            for name in BASELINES
        },
    }
    if champion:
        predictions["champion"] = champion_predictions
    aligned = {
        name: test[KEY_COLUMNS].merge(frame, on=KEY_COLUMNS, how="left")
        for name, frame in predictions.items()
    }
    scores = compare_models(test, aligned, params, (*BASELINES, "champion"))
    checks = promotion_checks(
        scores, references, bool(champion), promotion["tolerance_vs_champion"]
    )
    failed = [
        f"{target}: {name}"
        for target, named in checks.items()
        for name, ok in named.items()
        if not ok
    ]
    promote = not failed
    champion_text = f"champion version {champion['version']}" if champion else "no champion yet"
    reason = (
        f"every target is not worse than its baseline and the champion ({champion_text})"
        if promote
        else f"failed ({champion_text}): " + "; ".join(failed)
    )
    return {
        "promote": promote,
        "reason": reason,
        "failed": failed,
        "champion_version": champion["version"] if champion else None,
        "checks": checks,
        "criteria": TARGET_METRIC,
        "reference_baseline": references,
        "served": {
            target: {"model": forecaster.served[target], "reason": forecaster.reasons[target]}
            for target in TARGETS
        },
        "window": data_window(test),
        "scores": scores["metrics"],
        "diebold_mariano": scores["diebold_mariano"],
    }
