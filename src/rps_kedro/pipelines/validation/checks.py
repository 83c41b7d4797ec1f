"""What the gate judges: each symbol's NEW bars (this run's snapshot merged onto its history).

A merged row is new when its (symbol, timestamp) is not in the history or its values differ from
the history's (a provider revision). History rows absent from the merged frame are kept, never
judged again. Every derived column is computed per symbol over history and new bars together (a
spike needs the trailing returns, a level shift the last good close), then only the new bars are
handed to the expectations. Raw values are kept for the type checks; the numeric checks read the
values coerced to numbers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from rps_kedro.core.bar_rules import PRICE_COLUMNS, seconds_past_hour
from rps_kedro.core.bars import KEY_COLUMNS, VALUE_COLUMNS
from rps_kedro.core.market_calendar import MarketCalendar

NULL_SYMBOL = "<null>"
EMPTY_SYMBOL = "<empty>"
ONE_HOUR = pd.Timedelta(hours=1)
EPOCH = pd.Timestamp(0, tz="UTC")


def _label(symbol: Any) -> str:
    """A symbol as a label: text as it is, empty text and nulls named."""
    if symbol is None or (isinstance(symbol, float) and math.isnan(symbol)):
        return NULL_SYMBOL
    return str(symbol) if str(symbol).strip() else EMPTY_SYMBOL


def symbol_labels(bars: pd.DataFrame) -> pd.Series:
    """Each row's symbol as a non-empty label: a null or empty symbol gets a label of its own."""
    if "symbol" not in bars:
        return pd.Series(NULL_SYMBOL, index=bars.index, dtype=object)
    codes, distinct = pd.factorize(bars["symbol"])
    labels = np.array([*map(_label, distinct), NULL_SYMBOL], dtype=object)
    return pd.Series(labels[codes], index=bars.index, dtype=object)


def bar_times(bars: pd.DataFrame) -> pd.Series:
    """Each row's timestamp as UTC (naive read as UTC, unparseable as NaT), for keys and order."""
    if "timestamp" not in bars:
        return pd.Series(pd.NaT, index=bars.index, dtype="datetime64[ns, UTC]")
    return pd.to_datetime(bars["timestamp"], utc=True, errors="coerce", format="mixed")


def numeric_values(bars: pd.DataFrame) -> pd.DataFrame:
    """The value columns present, coerced to float (anything not a number becomes NaN)."""
    return pd.DataFrame(
        {
            column: pd.to_numeric(bars[column], errors="coerce").astype("float64")
            for column in VALUE_COLUMNS
            if column in bars
        },
        index=bars.index,
    )


def _is_number(value: Any) -> bool:
    """A real number (int or float, not a bool or a string); a null is not judged here."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def non_numeric_counts(bars: pd.DataFrame) -> pd.Series:
    """Per row, how many value columns hold something other than a number (a string, a bool)."""
    counts = pd.Series(0, index=bars.index, dtype="int64")
    for column in VALUE_COLUMNS:
        if column in bars and not pd.api.types.is_float_dtype(bars[column]):
            counts += (~bars[column].map(_is_number).astype(bool)).astype("int64")
    return counts


def utc_timestamp_flags(bars: pd.DataFrame) -> pd.Series:
    """Per row, whether the timestamp is a timezone-aware datetime (naive or text is not)."""
    if "timestamp" not in bars:
        return pd.Series(False, index=bars.index)
    raw = bars["timestamp"]
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        return raw.notna()
    return raw.map(lambda value: isinstance(value, pd.Timestamp) and value.tzinfo is not None)


def _history_lookup(history: pd.DataFrame) -> pd.DataFrame:
    """The history's values indexed by (symbol, timestamp)."""
    return history.set_index(KEY_COLUMNS)[VALUE_COLUMNS]


def _revision_change(values: pd.DataFrame, previous: pd.DataFrame) -> pd.Series:
    """Largest relative change of a price against the history's value for the same bar."""
    columns = [column for column in PRICE_COLUMNS if column in values]
    if not columns:
        return pd.Series(np.nan, index=values.index)
    new = values[columns].to_numpy()
    old = previous[columns].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.abs(new / old - 1.0)
    largest = np.where(np.isnan(change), -np.inf, change).max(axis=1)
    return pd.Series(np.where(np.isfinite(largest), largest, np.nan))


def merged_with_history(history: pd.DataFrame, merged: pd.DataFrame) -> pd.DataFrame:
    """Merged rows (labelled, keyed, coerced, marked new or not) plus the history rows they lack."""
    merged = merged.reset_index(drop=True)
    rows = pd.DataFrame(
        {"symbol": symbol_labels(merged), "bar_time": bar_times(merged)}, index=merged.index
    )
    rows["raw_timestamp"] = merged["timestamp"] if "timestamp" in merged else pd.NaT
    values = numeric_values(merged)
    rows = rows.join(values)
    rows["non_numeric_values"] = non_numeric_counts(merged)
    rows["timestamp_is_utc_datetime"] = utc_timestamp_flags(merged).astype(bool)
    rows["from_history"] = False
    rows["merged_row"] = np.arange(len(merged))
    keys = pd.MultiIndex.from_arrays([rows["symbol"], rows["bar_time"]])
    lookup = _history_lookup(history)
    known = keys.isin(lookup.index)
    previous = lookup.reindex(keys)
    previous.index = rows.index
    present = [column for column in VALUE_COLUMNS if column in values]
    same = (
        (values[present] == previous[present]) | (values[present].isna() & previous[present].isna())
    ).all(axis=1)
    unchanged = known & same.to_numpy() & (len(present) == len(VALUE_COLUMNS))
    unchanged &= rows["non_numeric_values"].eq(0).to_numpy()
    unchanged &= rows["timestamp_is_utc_datetime"].to_numpy()
    rows["is_new"] = ~unchanged
    rows["revision_change"] = _revision_change(values, previous).to_numpy()
    rows.loc[~known, "revision_change"] = np.nan
    rows["revised"] = known & rows["is_new"].to_numpy()
    absent = ~history.set_index(KEY_COLUMNS).index.isin(keys)
    kept = history.loc[absent].rename(columns={"timestamp": "bar_time"})
    kept = kept.assign(
        raw_timestamp=kept["bar_time"],
        non_numeric_values=0,
        timestamp_is_utc_datetime=True,
        from_history=True,
        merged_row=-1,
        is_new=False,
        revision_change=np.nan,
        revised=False,
    )
    combined = pd.concat([rows, kept], ignore_index=True) if len(kept) else rows
    return combined.sort_values(["symbol", "bar_time"], kind="stable", na_position="last")


def revisions(history: pd.DataFrame, bars: pd.DataFrame) -> list[dict[str, Any]]:
    """Each revised bar's changed values, old and new: what a provider corrected."""
    revised = bars.loc[bars["revised"]]
    lookup = _history_lookup(history)
    records = []
    for row in revised.itertuples(index=False):
        old = lookup.loc[(row.symbol, row.bar_time)]
        for column in VALUE_COLUMNS:
            new = getattr(row, column, np.nan)
            if not (new == old[column] or (pd.isna(new) and pd.isna(old[column]))):
                records.append(
                    {
                        "symbol": row.symbol,
                        "timestamp": str(row.bar_time),
                        "column": column,
                        "old": float(old[column]),
                        "new": float(new),
                        "relative_change": row.revision_change,
                    }
                )
    return records


def _following_mean(log_close: pd.Series, groups: pd.Series, bars: int) -> pd.Series:
    """Mean log close of the next `bars` bars of the same symbol (NaN where fewer follow)."""
    following = [log_close.groupby(groups).shift(-step) for step in range(1, bars + 1)]
    return pd.concat(following, axis=1).mean(axis=1, skipna=False)


def _trailing_mad(returns: pd.Series, groups: pd.Series, window: int, min_bars: int) -> pd.Series:
    """1.4826 x the median |return| of the `window` bars before each bar, within its symbol."""
    median = (
        returns.abs()
        .groupby(groups)
        .rolling(window, min_periods=min_bars)
        .median()
        .reset_index(level=0, drop=True)
    )
    return median.groupby(groups).shift(1) * 1.4826


def accepted_bars(bars: pd.DataFrame, accepted: list[dict[str, str]]) -> pd.Series:
    """Bars an operator inspected and accepted as real (a flash crash that rebounded within the
    confirmation bars, a genuine jump): the plausibility checks leave them alone."""
    if not accepted:
        return pd.Series(False, index=bars.index)
    keys = pd.MultiIndex.from_tuples(
        [
            (entry["symbol"], pd.Timestamp(entry["timestamp"]).tz_convert("UTC"))
            for entry in accepted
        ]
    )
    return pd.Series(
        pd.MultiIndex.from_arrays([bars["symbol"], bars["bar_time"]]).isin(keys), index=bars.index
    )


def add_sequence_checks(
    bars: pd.DataFrame, as_of: pd.Timestamp, params: dict[str, Any]
) -> pd.DataFrame:
    """Derived per-bar columns judged by the expectations, computed within each symbol in order;
    spike, level-shift and stuck-close values of accepted bars are neutral."""
    spike = params["spike"]
    accepted = accepted_bars(bars, params["accepted_bars"])
    groups = bars["symbol"]
    close = bars["close"] if "close" in bars else pd.Series(np.nan, index=bars.index)
    log_close = np.log(close.where(np.isfinite(close) & (close > 0)))
    returns = log_close.groupby(groups).diff()
    scale = np.maximum(
        _trailing_mad(returns, groups, spike["window"], spike["min_bars"]),
        _trailing_mad(returns, groups, spike["burst_window"], spike["burst_window"]),
    )
    score = returns.abs() / scale.where(scale > 0)
    previous = log_close.groupby(groups).shift(1)
    following = _following_mean(log_close, groups, spike["confirmation_bars"])
    confirmed = (following - log_close).abs() < (following - previous).abs()
    volume = bars["volume"] if "volume" in bars else pd.Series(np.nan, index=bars.index)
    repeated = close.eq(close.groupby(groups).shift(1)) & volume.gt(0)
    run_start = (~repeated).cumsum()
    epoch_seconds = (bars["bar_time"] - EPOCH).dt.total_seconds().to_numpy()
    non_finite = bars.reindex(columns=VALUE_COLUMNS).apply(np.isinf).sum(axis=1)
    return bars.assign(
        seconds_past_hour=seconds_past_hour(epoch_seconds),
        bar_end_hours_after_as_of=(bars["bar_time"] + ONE_HOUR - as_of) / ONE_HOUR,
        non_finite_values=non_finite.astype("int64"),
        robust_return_score=score,
        unconfirmed_spike=(score > spike["max_mads"]) & ~confirmed & ~accepted,
        bar_to_bar_ratio=np.exp(returns.abs()).mask(accepted, 1.0),
        identical_close_run=run_start.map(run_start.value_counts()).where(repeated & ~accepted, 1),
        bar_range=bars.get("high", np.nan) - bars.get("low", np.nan),
    )


def _missing_share(expected: pd.DatetimeIndex, present: pd.DatetimeIndex) -> float:
    """Share of the expected trading hours without a bar."""
    return len(expected.difference(present)) / len(expected) if len(expected) else 0.0


def _symbol_row(
    symbol: str,
    bars: pd.DataFrame,
    calendar: MarketCalendar,
    as_of: pd.Timestamp,
    recent: pd.Timedelta,
) -> dict[str, Any]:
    """One symbol's counts: bars, new bars, hours missing (whole and checked window), freshness."""
    present = pd.DatetimeIndex(bars["bar_time"].dropna().unique()).sort_values()
    new = bars.loc[bars["is_new"]]
    row: dict[str, Any] = {
        "symbol": symbol,
        "bars": int(len(bars)),
        "new_bars": int(len(new)),
        "history_bars_kept": int(bars["from_history"].sum()),
        "missing_hour_ratio": np.nan,
        "missing_hour_ratio_checked": np.nan,
        "bars_outside_trading_hours": 0,
        "hours_since_last_bar": np.inf,
        "zero_range_bars": int(bars["bar_range"].eq(0).sum()),
        "zero_range_share": float(bars["bar_range"].eq(0).mean()) if len(bars) else np.nan,
    }
    if present.empty:
        return row
    expected = calendar.trading_hours(symbol, present[0], present[-1])
    row["missing_hour_ratio"] = _missing_share(expected, present)
    row["hours_since_last_bar"] = (as_of - present[-1]) / ONE_HOUR
    new_times = pd.DatetimeIndex(new["bar_time"].dropna())
    if len(new_times):
        start = max(present[0], min(new_times.min(), present[-1] - recent))
        row["missing_hour_ratio_checked"] = _missing_share(expected[expected >= start], present)
        row["bars_outside_trading_hours"] = len(new_times.difference(expected))
    return row


def symbol_summary(
    bars: pd.DataFrame,
    symbols: list[str],
    calendar: MarketCalendar,
    as_of: pd.Timestamp,
    params: dict[str, Any],
) -> pd.DataFrame:
    """One row per configured or present symbol: what the per-symbol expectations judge."""
    recent = pd.Timedelta(days=params["recent_days"])
    by_symbol = dict(list(bars.groupby("symbol", sort=True)))
    names = list(dict.fromkeys([*symbols, *by_symbol]))
    empty = bars.iloc[:0]
    rows = [
        _symbol_row(name, by_symbol.get(name, empty), calendar, as_of, recent) for name in names
    ]
    return pd.DataFrame(rows)
