"""The bars contract (DESIGN.md §3): one row per (symbol, timestamp), UTC hourly, float64 OHLCV."""

from __future__ import annotations

import pandas as pd

KEY_COLUMNS = ["symbol", "timestamp"]
VALUE_COLUMNS = ["open", "high", "low", "close", "volume"]
BAR_COLUMNS = KEY_COLUMNS + VALUE_COLUMNS


def empty_bars() -> pd.DataFrame:
    """Return an empty frame with the bars contract's columns and dtypes."""
    frame = pd.DataFrame(
        {
            "symbol": pd.Series(dtype="object"),
            "timestamp": pd.Series(dtype="datetime64[ns, UTC]"),
        }
    )
    for column in VALUE_COLUMNS:
        frame[column] = pd.Series(dtype="float64")
    return frame


def conform_bars(frame: pd.DataFrame, naive_is_utc: bool = False) -> pd.DataFrame:
    """Cast a frame to the bars contract, sorted by (symbol, timestamp)."""
    missing = [column for column in BAR_COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(f"bars are missing columns {missing}")
    bars = frame[BAR_COLUMNS].copy()
    bars["symbol"] = bars["symbol"].astype(str).astype("object")
    timestamps = pd.to_datetime(bars["timestamp"])
    if timestamps.dt.tz is None:
        if not naive_is_utc:
            raise ValueError("bars timestamps must be timezone-aware")
        timestamps = timestamps.dt.tz_localize("UTC")
    bars["timestamp"] = timestamps.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    bars[VALUE_COLUMNS] = bars[VALUE_COLUMNS].astype("float64")
    return bars.sort_values(KEY_COLUMNS, kind="stable").reset_index(drop=True)


def merge_bars(history: pd.DataFrame, update: pd.DataFrame) -> pd.DataFrame:
    """Union two bar sets, keeping the update's row where (symbol, timestamp) repeats.

    Values are not cast: judging dtypes and values is the quality gate's job, so a snapshot with
    naive or text timestamps, text prices or null symbols merges as it is (ordered as if UTC).
    """
    parts = [frame for frame in (history, update) if not frame.empty]
    if not parts:
        return empty_bars()
    combined = pd.concat(parts, ignore_index=True)
    present_keys = [column for column in KEY_COLUMNS if column in combined]
    deduplicated = combined.drop_duplicates(subset=present_keys or None, keep="last")
    return deduplicated.sort_values(present_keys, kind="stable", key=_sort_key).reset_index(
        drop=True
    )


def _sort_key(column: pd.Series) -> pd.Series:
    """Order symbols as text and timestamps as UTC instants, whatever their raw types."""
    if column.name == "timestamp":
        return pd.to_datetime(column, utc=True, errors="coerce", format="mixed")
    return column.astype(str)


def as_model_input(bars: pd.DataFrame) -> pd.DataFrame:
    """Bars with naive UTC timestamps: MLflow model signatures only accept naive datetimes."""
    return bars.assign(timestamp=pd.to_datetime(bars["timestamp"], utc=True).dt.tz_convert(None))


def from_model_input(bars: pd.DataFrame) -> pd.DataFrame:
    """Bars given to the model (naive or aware timestamps, naive meaning UTC) as the contract."""
    return conform_bars(bars, naive_is_utc=True)
