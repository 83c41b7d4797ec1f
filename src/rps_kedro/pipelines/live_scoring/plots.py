"""The live scoring run's plots, per model version over the last week: predicted vs realised
volatility (with HAR's forecast), and the cumulative loss advantage over the baselines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from rps_kedro.core.figures import subplots
from rps_kedro.pipelines.training.metrics import qlike_losses

if TYPE_CHECKING:
    from matplotlib.figure import Figure

WEEK_HOURS = 168


def volatility_figure(scored: pd.DataFrame) -> Figure:
    """Realised next-hour volatility against the served and the HAR forecasts, per symbol."""
    symbols = sorted(scored["symbol"].unique())
    figure, axes = subplots(len(symbols), 1, figsize=(11, 2.5 * len(symbols)), squeeze=False)
    for axis, symbol in zip(axes[:, 0], symbols, strict=True):
        rows = scored.loc[scored["symbol"] == symbol].sort_values("prediction_for")
        axis.plot(rows["prediction_for"], rows["target_volatility"], label="realised", lw=1)
        axis.plot(rows["prediction_for"], rows["predicted_volatility"], label="served", lw=1)
        axis.plot(rows["prediction_for"], rows["har_volatility"], label="HAR", lw=1, ls="--")
        axis.set_title(symbol, fontsize=9)
        axis.set_ylabel("volatility")
    axes[0, 0].legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    return figure


def cumulative_skill_figure(scored: pd.DataFrame, floor: dict[str, float]) -> Figure:
    """Cumulative (baseline loss - served loss) per symbol: rising while the served forecast
    beats persistence (return, squared error) or HAR (volatility, QLIKE)."""
    figure, (returns, volatility) = subplots(2, 1, figsize=(11, 6), sharex=True)
    for symbol, rows in scored.sort_values("prediction_for").groupby("symbol"):
        actual = rows["target_log_return"].to_numpy()
        advantage = actual**2 - (actual - rows["predicted_log_return"].to_numpy()) ** 2
        returns.plot(rows["prediction_for"], np.cumsum(advantage), label=symbol, lw=1)
        floors = np.maximum(floor["fraction"] * rows["har_volatility"], floor["minimum"])
        realised = rows["target_volatility"].to_numpy()
        har = qlike_losses(realised, rows["har_volatility"].to_numpy(), floors.to_numpy())
        served = qlike_losses(realised, rows["predicted_volatility"].to_numpy(), floors.to_numpy())
        volatility.plot(rows["prediction_for"], np.cumsum(har - served), label=symbol, lw=1)
    returns.set_title("return: cumulative squared-error advantage over persistence", fontsize=9)
    volatility.set_title("volatility: cumulative QLIKE advantage over HAR", fontsize=9)
    for axis in (returns, volatility):
        axis.axhline(0, color="grey", lw=0.8)
    returns.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    return figure


def version_figures(
    scored: pd.DataFrame, as_of: pd.Timestamp, params: dict[str, Any]
) -> dict[str, dict[str, Figure]]:
    """Per model version, its plots of the week's scored forecasts (none without any)."""
    if scored.empty:
        return {}
    week = scored.loc[
        (scored["status"] == "scored")
        & (scored["prediction_for"] > as_of - pd.Timedelta(hours=WEEK_HOURS))
    ]
    return {
        str(version): {
            "plots/volatility_predicted_vs_realised.png": volatility_figure(rows),
            "plots/cumulative_skill_vs_baselines.png": cumulative_skill_figure(
                rows, params["volatility_floor"]
            ),
        }
        for version, rows in week.groupby("model_version")
    }
