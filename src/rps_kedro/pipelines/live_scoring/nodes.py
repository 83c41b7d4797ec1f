"""Live accuracy of the served forecasts: each logged forecast joined with the realised next
bar (the same return and Garman-Klass volatility as the training targets, core.features), then
rolling metrics per symbol and model version: RMSE of the return vs persistence, QLIKE of the
volatility vs HAR, directional accuracy, how many forecasts were scored and how many never
can be (their bar never came), and the mean out-of-range share of their features.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from rps_kedro.core.bars import KEY_COLUMNS
from rps_kedro.core.features import compute_targets, sort_bars
from rps_kedro.pipelines.live_scoring.plots import version_figures
from rps_kedro.pipelines.training.metrics import qlike_losses, skill

TIME_COLUMNS = ["served_at", "timestamp", "prediction_for"]
FORECAST_KEY = ["request_id", *KEY_COLUMNS]
PARTITION_DATE = re.compile(r"date=(\d{4}-\d{2}-\d{2})")
SCORED, MISSING, PENDING = "scored", "missing", "pending"
SAMPLE_LABELS = ["symbol", "model_version", "window", "target"]
METRIC_COLUMNS = [  # live_metrics' columns, in order (an empty result keeps them)
    "symbol",
    "model_version",
    "window",
    "as_of",
    "scored",
    "missing",
    "pending",
    "unscored_share",
    "rmse_return",
    "rmse_return_persistence",
    "return_skill_vs_persistence",
    "qlike_volatility",
    "qlike_volatility_har",
    "volatility_skill_vs_har",
    "directional_accuracy",
    "mean_out_of_range_share",
]
SKILL_COLUMNS = {"return": "return_skill_vs_persistence", "volatility": "volatility_skill_vs_har"}
GROUP_METRICS = {  # Prometheus metric: live_metrics column (one sample per group, no target)
    "rps_live_scored_forecasts": "scored",
    "rps_live_unscored_share": "unscored_share",
    "rps_live_out_of_range_share": "mean_out_of_range_share",
}


def as_of_time(params: dict[str, Any]) -> pd.Timestamp:
    """The end of the scoring windows: `as_of` (a naive time is UTC), or now."""
    as_of = pd.Timestamp(params["as_of"] or pd.Timestamp.now(tz="UTC"))
    return as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of.tz_convert("UTC")


def collect_predictions(
    partitions: dict[str, Callable[[], pd.DataFrame]], params: dict[str, Any]
) -> pd.DataFrame:
    """The logged forecasts of the last `lookback_days` partitions, times as UTC, each forecast
    once: a request's row logged twice, or a scheduled forecast of the same bar by the same
    model version (a weekend's hourly runs), counts once."""
    first_day = (as_of_time(params) - pd.Timedelta(days=params["lookback_days"])).date()
    frames = [
        load()
        for partition, load in sorted(partitions.items())
        if (day := PARTITION_DATE.search(partition))
        and pd.Timestamp(day.group(1)).date() >= first_day
    ]
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        return pd.DataFrame()
    predictions = pd.concat(frames, ignore_index=True)
    times = {
        column: pd.to_datetime(predictions[column], utc=True, format="ISO8601")
        for column in TIME_COLUMNS
    }
    predictions = predictions.assign(
        **times, model_version=predictions["model_version"].astype(str)
    )
    predictions = predictions.drop_duplicates(FORECAST_KEY, keep="first")
    # The hourly schedule forecasts a closed market's last bar again every hour: count it once.
    scheduled = predictions.loc[predictions["source"] == "scheduled"]
    repeated = scheduled.index[scheduled.duplicated([*KEY_COLUMNS, "model_version"])]
    return predictions.drop(index=repeated).reset_index(drop=True)


def realised_next_bars(bars: pd.DataFrame) -> pd.DataFrame:
    """Per bar: the start of the symbol's next bar and its realised log return and volatility."""
    bars = sort_bars(bars)
    targets = compute_targets(bars)
    return targets.assign(realised_for=bars.groupby("symbol")["timestamp"].shift(-1))


def score_predictions(
    predictions: pd.DataFrame, bars: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    """Each forecast with its realised values and status: `scored` (its bar arrived), `missing`
    (its bar is overdue: `bar_delay_hours` past its end at `as_of`, and still absent) or
    `pending` (its bar may still come). A later run re-reads the log, so a late bar turns a
    missing forecast into a scored one."""
    if predictions.empty:
        return predictions
    scored = predictions.merge(realised_next_bars(bars), on=KEY_COLUMNS, how="left")
    arrived = (scored["realised_for"] == scored["prediction_for"]).to_numpy()
    due = scored["prediction_for"] + pd.Timedelta(hours=1 + params["bar_delay_hours"])
    overdue = (due <= as_of_time(params)).to_numpy()
    status = np.select([arrived, overdue], [SCORED, MISSING], PENDING)
    realised = {
        column: scored[column].where(arrived)
        for column in ("target_log_return", "target_volatility")
    }
    return scored.assign(status=status, **realised).drop(columns="realised_for")


def _rmse(errors: pd.Series) -> float:
    return float(np.sqrt(np.mean(errors**2))) if len(errors) else float("nan")


def _window_metrics(rows: pd.DataFrame, floor: dict[str, float]) -> dict[str, float]:
    """Metrics of one (symbol, model version, window) group of forecasts."""
    scored = rows.loc[rows["status"] == SCORED]
    missing = int((rows["status"] == MISSING).sum())
    actual = scored["target_log_return"]
    predicted = scored["predicted_log_return"]
    rmse, rmse_persistence = (
        _rmse(actual - predicted),
        _rmse(actual - scored["persistence_log_return"]),
    )
    floors = np.maximum(floor["fraction"] * scored["har_volatility"], floor["minimum"])
    qlike = float(
        np.mean(qlike_losses(scored["target_volatility"], scored["predicted_volatility"], floors))
    )
    qlike_har = float(
        np.mean(qlike_losses(scored["target_volatility"], scored["har_volatility"], floors))
    )
    moved = (actual != 0) & (predicted != 0)
    return {
        "scored": len(scored),
        "missing": missing,
        "pending": int((rows["status"] == PENDING).sum()),
        "unscored_share": missing / (len(scored) + missing)
        if len(scored) + missing
        else float("nan"),
        "rmse_return": rmse,
        "rmse_return_persistence": rmse_persistence,
        "return_skill_vs_persistence": skill(rmse, rmse_persistence),
        "qlike_volatility": qlike,
        "qlike_volatility_har": qlike_har,
        "volatility_skill_vs_har": skill(qlike, qlike_har),
        "directional_accuracy": float(np.mean(np.sign(actual[moved]) == np.sign(predicted[moved])))
        if moved.any()
        else float("nan"),
        "mean_out_of_range_share": float(rows["out_of_range_share"].mean()),
    }


def live_metrics(scored: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """Rolling metrics per symbol, model version and window (forecasts for bars in the window
    that ends at `as_of`)."""
    as_of = as_of_time(params)
    rows: list[dict[str, Any]] = []
    if scored.empty:
        return pd.DataFrame(rows, columns=METRIC_COLUMNS)
    for window, hours in params["windows_hours"].items():
        start = as_of - pd.Timedelta(hours=hours)
        in_window = scored.loc[
            (scored["prediction_for"] > start) & (scored["prediction_for"] <= as_of)
        ]
        for (symbol, version), group in in_window.groupby(["symbol", "model_version"], sort=True):
            rows.append(
                {
                    "symbol": symbol,
                    "model_version": version,
                    "window": window,
                    "as_of": as_of,
                    **_window_metrics(group, params["volatility_floor"]),
                }
            )
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def live_metric_samples(
    metrics: pd.DataFrame, scored: pd.DataFrame, test_skill: dict[str, dict[str, float]]
) -> pd.DataFrame:
    """The live metrics as Prometheus samples (metric, labels, value): skill per target, scored
    forecasts, unscored and out-of-range shares per group, each symbol's newest scheduled
    forecast time, and the test-window skill of each model version scored (an empty label is an
    absent one)."""
    rows = [
        {"metric": "rps_model_test_skill", "symbol": "", "model_version": version, "window": ""}
        | {"target": target, "value": value}
        for version in sorted(set(metrics["model_version"].astype(str)))
        for target, value in test_skill.get(version, {}).items()
    ]
    for record in metrics.to_dict(orient="records"):
        labels = {label: record[label] for label in SAMPLE_LABELS[:3]}
        rows += [
            {"metric": "rps_live_skill", **labels, "target": target, "value": record[column]}
            for target, column in SKILL_COLUMNS.items()
        ]
        rows += [
            {"metric": metric, **labels, "target": "", "value": record[column]}
            for metric, column in GROUP_METRICS.items()
        ]
    if not scored.empty:
        scheduled = scored.loc[scored["source"] == "scheduled"]
        for symbol, served_at in scheduled.groupby("symbol")["served_at"].max().items():
            rows.append(
                {
                    "metric": "rps_live_newest_forecast_timestamp_seconds",
                    "symbol": symbol,
                    "model_version": "",
                    "window": "",
                    "target": "",
                    "value": served_at.timestamp(),
                }
            )
    return pd.DataFrame(rows, columns=["metric", *SAMPLE_LABELS, "value"])


def registry_live_skill(
    metrics: pd.DataFrame, scored: pd.DataFrame, params: dict[str, Any]
) -> dict[str, Any]:
    """Per model version: every live metric as `<window>.<symbol>.<metric>` (NaN left out), the
    7-day skill per symbol and target as the version's registry tags, and the week's plots."""
    figures = version_figures(scored, as_of_time(params), params)
    versions: dict[str, Any] = {}
    for version, rows in metrics.groupby("model_version", sort=True):
        values = {
            f"{row['window']}.{row['symbol']}.{name}": float(row[name])
            for row in rows.to_dict(orient="records")
            for name in METRIC_COLUMNS[4:]
            if pd.notna(row[name])
        }
        weekly = rows.loc[rows["window"] == "7d"]
        tags = {
            f"live_7d_{target}_skill.{row['symbol']}": f"{row[column]:.4f}"
            for row in weekly.to_dict(orient="records")
            for target, column in SKILL_COLUMNS.items()
            if pd.notna(row[column])
        }
        versions[str(version)] = {
            "as_of": pd.Timestamp(rows["as_of"].iloc[0]).isoformat(),
            "metrics": values,
            "tags": tags,
            "figures": figures.get(str(version), {}),
        }
    return versions
