"""The scheduled forecast: the champion's forecast of the bar after each configured symbol's
latest primary bar, through the bundle's own `predict` (the contract the service serves).

The forecasts are written twice: as the latest forecast per symbol (one file each, what
GET /forecast/{symbol} answers) and as rows of the prediction log, in the service's format with
`source: scheduled`, so live scoring judges them like the forecasts answered over HTTP. The
published ones say where their prices come from (`data_source`: "simulated" for the simulator,
else the provider).
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from rps_kedro.core.bars import as_model_input
from rps_kedro.core.fallback import with_fallback
from rps_kedro.data_source import data_source

logger = logging.getLogger(__name__)
LIST_COLUMNS = ("out_of_range_features", "clipped_targets")
TIME_COLUMNS = ("served_at", "timestamp", "prediction_for")


def _names(joined: str) -> list[str]:
    return joined.split(",") if joined else []


def _iso(moment: pd.Timestamp) -> str:
    return moment.tz_convert("UTC").isoformat().replace("+00:00", "Z")


def forecast_next_hour(
    champion: dict[str, Any] | None,
    bars: pd.DataFrame,
    symbols: list[str],
    fallback: dict[str, Any],
) -> pd.DataFrame:
    """One row per configured symbol with enough bars: the champion's forecast of its next bar
    (the baseline's when too many features are out of range, as the service answers), with
    when it was made and by which model version (no champion yet: no rows)."""
    if champion is None:
        logger.warning("No champion in the registry yet: nothing to forecast")
        return pd.DataFrame()
    model = champion["model"]
    recent = bars.loc[bars["symbol"].isin(symbols)].groupby("symbol").tail(model.lookback)
    forecasts = model.predict(as_model_input(recent)).groupby("symbol").tail(1)
    skipped = sorted(set(symbols) - set(forecasts["symbol"]))
    if skipped:
        logger.warning("No forecast for %s: fewer than %d bars", ", ".join(skipped), model.lookback)
    served_at = pd.Timestamp.now(tz="UTC").floor("s")
    forecasts = pd.DataFrame(
        [with_fallback(row, row, **fallback) for row in forecasts.to_dict(orient="records")]
    )
    return forecasts.assign(
        served_at=served_at,
        source="scheduled",
        request_id=f"scheduled-{served_at:%Y%m%dT%H%M%SZ}",
        model_name=champion["name"],
        model_version=str(champion["version"]),
        model_alias=champion["alias"],
        **{column: forecasts[column].map(_names) for column in LIST_COLUMNS},
    ).reset_index(drop=True)


def _with_text_times(forecasts: pd.DataFrame) -> pd.DataFrame:
    """The forecasts with their times as ISO 8601 UTC text (the service's log format)."""
    return forecasts.assign(**{column: forecasts[column].map(_iso) for column in TIME_COLUMNS})


def prediction_log_partition(
    forecasts: pd.DataFrame, sharding: dict[str, int]
) -> dict[str, pd.DataFrame]:
    """The forecasts as one new partition of the prediction log (the hour they were made in),
    named by the shard that made them (shards may run in the same second)."""
    if forecasts.empty:
        return {}
    served_at = forecasts["served_at"].iloc[0]
    shard = f"shard-{sharding['index']}-of-{sharding['count']}"
    partition = f"date={served_at:%Y-%m-%d}/hour={served_at:%H}/scheduled-{served_at:%M%S}-{shard}"
    return {partition: _with_text_times(forecasts)}


def latest_forecasts(forecasts: pd.DataFrame, market_source: Any) -> dict[str, Any]:
    """The forecasts by symbol, for GET /forecast/{symbol} (one file each), each with its data
    source."""
    records = _with_text_times(forecasts).to_dict(orient="records") if len(forecasts) else []
    source = data_source(market_source)
    return {record["symbol"]: record | {"data_source": source} for record in records}
