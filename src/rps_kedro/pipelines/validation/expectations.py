"""The bars quality suite in Great Expectations (GX Core 1.x), thresholds from parameters.

Two batches are validated: the bars themselves (with three derived columns: seconds past the hour,
the return-spike score and the bar range high - low) and a per-symbol summary (row count,
missing-hour ratio inside trading hours, bars outside them, age of the newest bar, zero-range bars
as count and share).
"""

from __future__ import annotations

import logging
from typing import Any

import great_expectations as gx
import great_expectations.expectations as gxe
import numpy as np
import pandas as pd
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.expectations.metadata_types import FailureSeverity

from rps_kedro.core.bars import BAR_COLUMNS, KEY_COLUMNS, VALUE_COLUMNS
from rps_kedro.core.market_calendar import MarketCalendar

PRICE_COLUMNS = ["open", "high", "low", "close"]
OHLC_ORDER = [("high", "open"), ("high", "close"), ("open", "low"), ("close", "low")]
logging.getLogger("great_expectations").setLevel(logging.WARNING)


def bar_range(bars: pd.DataFrame) -> pd.Series:
    """High minus low per bar; NaN where either is missing or not numeric."""
    if not {"high", "low"} <= set(bars.columns):
        return pd.Series(np.nan, index=bars.index)
    high = pd.to_numeric(bars["high"], errors="coerce")
    return high - pd.to_numeric(bars["low"], errors="coerce")


def bars_with_derived_columns(bars: pd.DataFrame, spike_window: int) -> pd.DataFrame:
    """Add seconds past the hour, bar range and |return| / trailing std of returns, per symbol."""
    checked = bars.copy()
    checked["bar_range"] = bar_range(bars)
    if not {"symbol", "timestamp", "close"} <= set(bars.columns):
        return checked
    timestamps = pd.to_datetime(bars["timestamp"], errors="coerce", utc=True)
    checked["seconds_past_hour"] = (timestamps - timestamps.dt.floor("h")).dt.total_seconds()
    close = pd.to_numeric(bars["close"], errors="coerce").where(lambda c: c > 0)
    returns = np.log(close).groupby(bars["symbol"]).diff()
    trailing_std = (
        returns.groupby(bars["symbol"])
        .rolling(spike_window, min_periods=spike_window)
        .std()
        .reset_index(level=0, drop=True)
        .groupby(bars["symbol"])
        .shift(1)
    )
    checked["return_spike_score"] = (returns.abs() / trailing_std).replace(np.inf, np.nan)
    return checked


def _zero_range(ranges: pd.Series) -> tuple[int | None, float | None]:
    """Bars with high == low among one symbol's ranges: count and share (None if unknown)."""
    if ranges.isna().all():
        return None, None
    count = int(ranges.eq(0).sum())
    return count, count / len(ranges)


def _hour_coverage(
    symbol: str, stamps: pd.Series, calendar: MarketCalendar, as_of: pd.Timestamp
) -> tuple[float, int, float]:
    """Missing-hour ratio inside trading hours, bars outside them (extended hours, holidays) and
    hours since the newest bar, for one symbol."""
    present = pd.DatetimeIndex(stamps.dropna().unique())
    if present.empty:
        return 1.0, 0, np.inf
    expected = calendar.trading_hours(symbol, present.min(), present.max())
    missing = len(expected.difference(present)) / max(len(expected), 1)
    outside = len(present.difference(expected))
    return missing, outside, (as_of - present.max()) / pd.Timedelta(hours=1)


def symbol_summary(
    bars: pd.DataFrame, calendar: MarketCalendar, as_of: pd.Timestamp
) -> pd.DataFrame:
    """Per symbol: rows, missing trading hours, bars outside them, newest bar age, zero-range bars."""
    columns = ["symbol", "rows", "missing_hour_ratio", "bars_outside_trading_hours"]
    columns += ["hours_since_last_bar"]
    columns += ["zero_range_bars", "zero_range_share"]
    if not {"symbol", "timestamp"} <= set(bars.columns) or bars.empty:
        return pd.DataFrame(columns=columns)
    timestamps = pd.to_datetime(bars["timestamp"], errors="coerce", utc=True).dt.floor("h")
    zero_range = {
        symbol: _zero_range(ranges) for symbol, ranges in bar_range(bars).groupby(bars["symbol"])
    }
    rows = [
        (symbol, len(stamps), *_hour_coverage(symbol, stamps, calendar, as_of), *zero_range[symbol])
        for symbol, stamps in timestamps.groupby(bars["symbol"])
    ]
    return pd.DataFrame(rows, columns=columns)


def bars_suite(params: dict[str, Any]) -> list[gxe.Expectation]:
    """Expectations on each bar: schema, nulls, positivity, OHLC order, keys, alignment, warnings."""
    max_null_ratio = params["max_null_ratio"]
    suite: list[gxe.Expectation] = [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=BAR_COLUMNS, exact_match=False, description="required columns present"
        ),
        gxe.ExpectColumnValuesToBeOfType(
            column="timestamp", type_="Timestamp", description="timestamp is a datetime"
        ),
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=KEY_COLUMNS, description="(symbol, timestamp) unique"
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="seconds_past_hour", value_set=[0.0], description="timestamps on the hour"
        ),
        gxe.ExpectColumnValuesToBeBetween(column="volume", min_value=0, description="volume >= 0"),
        gxe.ExpectColumnValuesToBeBetween(
            column="return_spike_score",
            max_value=params["spike_max_std"],
            severity=FailureSeverity.WARNING,
            description=f"single-bar return within {params['spike_max_std']} rolling std",
        ),
        gxe.ExpectColumnValuesToNotBeInSet(
            column="bar_range",
            value_set=[0.0],
            mostly=1 - params["zero_range_max_share"],
            severity=FailureSeverity.WARNING,
            description=f"zero-range bars (high == low) at most {params['zero_range_max_share']:.1%}",
        ),
    ]
    for column in VALUE_COLUMNS:
        suite.append(
            gxe.ExpectColumnValuesToBeOfType(
                column=column, type_="float64", description=f"{column} is float64"
            )
        )
    for column in KEY_COLUMNS + VALUE_COLUMNS:
        suite.append(
            gxe.ExpectColumnValuesToNotBeNull(
                column=column,
                mostly=1 - max_null_ratio,
                description=f"{column} nulls below {max_null_ratio:.0%}",
            )
        )
    for column in PRICE_COLUMNS:
        suite.append(
            gxe.ExpectColumnValuesToBeBetween(
                column=column, min_value=0, strict_min=True, description=f"{column} > 0"
            )
        )
    for above, below in OHLC_ORDER:
        suite.append(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=above, column_B=below, or_equal=True, description=f"{above} >= {below}"
            )
        )
    return suite


def summary_suite(params: dict[str, Any]) -> list[gxe.Expectation]:
    """Expectations per symbol: enough rows, few missing trading hours, none outside them (an
    extended-hours, holiday or end-labelled bar rejects the batch), fresh newest bar."""
    suite: list[gxe.Expectation] = [
        gxe.ExpectColumnValuesToBeBetween(
            column="rows",
            min_value=params["min_rows_per_symbol"],
            description=f"at least {params['min_rows_per_symbol']} rows per symbol",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="missing_hour_ratio",
            max_value=params["max_missing_hour_ratio"],
            description=f"missing trading hours below {params['max_missing_hour_ratio']:.0%}",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="bars_outside_trading_hours",
            max_value=0,
            description="no bars outside the exchange's trading hours",
        ),
    ]
    freshness = params["freshness"]
    if freshness["enabled"]:
        suite.append(
            gxe.ExpectColumnValuesToBeBetween(
                column="hours_since_last_bar",
                max_value=freshness["max_age_hours"],
                description=f"newest bar at most {freshness['max_age_hours']} h old",
            )
        )
    return suite


def run_suite(
    frame: pd.DataFrame,
    expectations: list[gxe.Expectation],
    name: str,
    index_columns: list[str],
    example_count: int,
) -> list[dict[str, Any]]:
    """Validate a frame in a fresh ephemeral GX context; one plain record per expectation."""
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas(name)
        .add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe(name)
    )
    suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch, suite=suite)
    )
    usable_index = [column for column in index_columns if column in frame.columns]
    result = definition.run(
        batch_parameters={"dataframe": frame},
        result_format={
            "result_format": "SUMMARY",
            "partial_unexpected_count": example_count,
            "unexpected_index_column_names": usable_index,
        },
    )
    records = [_record(outcome, name) for outcome in result.results]
    for record in records:
        column = record["kwargs"].get("column")
        if column is not None and column not in frame.columns:
            record["exception"] = f"column '{column}' is missing"
    return records


def _record(outcome: Any, batch: str) -> dict[str, Any]:
    """Flatten one GX expectation result to the fields the report and the gate need."""
    config = outcome.expectation_config
    details = outcome.result or {}
    exception = (outcome.exception_info or {}).get("exception_message")
    return {
        "check": config.description,
        "batch": batch,
        "expectation": config.type,
        "kwargs": {k: v for k, v in config.kwargs.items() if k not in ("batch_id",)},
        "severity": str(config.severity.value),
        "success": bool(outcome.success),
        "observed_value": details.get("observed_value"),
        "element_count": details.get("element_count"),
        "unexpected_count": details.get("unexpected_count"),
        "unexpected_percent": details.get("unexpected_percent"),
        "examples": details.get("partial_unexpected_index_list")
        or details.get("partial_unexpected_list")
        or [],
        "exception": exception,
    }
