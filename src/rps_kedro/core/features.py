"""Feature engineering shared by training and serving: bars in, features or targets out.

Every feature of a bar uses that symbol's bars up to and including it, and only the last
`required_lookback(params)` of them: computed on the recent bars of one symbol it equals the
value computed on the full history. Windows and lags count bars of the symbol (an hour for
crypto pairs, a session hour for stocks). Exponential averages (RSI, ATR, MACD) are truncated
where the weight they leave out falls below `exponential_tail_weight`, so they too depend on a
fixed window.

Features are computed on numpy columns (`BarArrays`), for every bar of a history (training, the
logged model) or only for chosen bars, such as each symbol's latest (the service): the window
operations of per_symbol.py give both, equal to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rps_kedro.core.bars import KEY_COLUMNS, VALUE_COLUMNS, empty_bars
from rps_kedro.core.indicators import (
    cyclical,
    garman_klass_volatility,
    log_returns,
    moving_average_convergence_divergence,
    parkinson_volatility,
    relative_strength_index,
    true_range,
    zscore,
)
from rps_kedro.core.market_calendar import HOUR_NS, MarketCalendar
from rps_kedro.core.per_symbol import (
    SymbolRows,
    exponential_weights,
    pick,
    rolling_statistic,
    rolling_statistics,
    shift,
    symbol_rows,
    weighted_mean,
)

ROLLING_STATISTICS = ("mean", "std", "min", "max")
HOURS_PER_DAY = 24
DAYS_PER_WEEK = 7
TARGET_COLUMNS = ["target_log_return", "target_volatility"]

EPOCH_DAY_OF_WEEK = 3  # 1970-01-01 was a Thursday (Monday = 0)

Columns = dict[str, np.ndarray]


@dataclass(frozen=True)
class BarArrays:
    """Bars as numpy columns (UTC epoch nanoseconds, float64 values), each symbol's rows
    consecutive and in time order (a sorted frame, or the service's requests one after another)."""

    symbol: np.ndarray
    timestamp_ns: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    @classmethod
    def from_frame(cls, bars: pd.DataFrame) -> BarArrays:
        """The columns of a bars frame sorted by (symbol, timestamp) (see sort_bars)."""
        return cls(
            symbol=bars["symbol"].to_numpy(dtype=object),
            timestamp_ns=bars["timestamp"].to_numpy(dtype="datetime64[ns]").view("i8"),
            **{column: bars[column].to_numpy(dtype="float64") for column in VALUE_COLUMNS},
        )

    def timestamps(self, rows: np.ndarray | slice = slice(None)) -> pd.DatetimeIndex:
        """The timestamps of some rows as tz-aware UTC."""
        return pd.DatetimeIndex(self.timestamp_ns[rows], dtype="datetime64[ns, UTC]")


def sort_bars(bars: pd.DataFrame) -> pd.DataFrame:
    """Bars sorted by (symbol, timestamp) with a range index; no copy when they already are."""
    rows = symbol_rows(bars["symbol"].to_numpy())
    timestamps = bars["timestamp"].to_numpy(dtype="datetime64[ns]")
    rising_in_symbol = np.diff(timestamps)[rows.position[1:] > 0] > np.timedelta64(0)
    already_sorted = bars["symbol"].is_monotonic_increasing and rising_in_symbol.all()
    if already_sorted and bars.index.equals(pd.RangeIndex(len(bars))):
        return bars
    return bars.sort_values(KEY_COLUMNS, kind="stable", ignore_index=True)


def ema_weights(span: int, tail_weight: float) -> np.ndarray:
    """Weights of an exponential moving average of the given span (alpha = 2 / (span + 1))."""
    return exponential_weights(2 / (span + 1), tail_weight)


def wilder_weights(period: int, tail_weight: float) -> np.ndarray:
    """Weights of Wilder's smoothing over the given period (alpha = 1 / period)."""
    return exponential_weights(1 / period, tail_weight)


def _lagged_returns(returns: np.ndarray, rows: SymbolRows, lags: list[int]) -> Columns:
    """Log return of the bar `lag` bars back."""
    return {f"log_return_lag_{lag}": pick(shift(returns, rows, lag), rows) for lag in lags}


def _return_statistics(returns: np.ndarray, rows: SymbolRows, windows: list[int]) -> Columns:
    """Mean, std, min and max of the log returns over each trailing window."""
    statistics = rolling_statistics(returns, rows, windows, ROLLING_STATISTICS)
    return {f"return_{name}_{window}": value for (name, window), value in statistics.items()}


def _price_statistics(close: np.ndarray, rows: SymbolRows, windows: list[int]) -> Columns:
    """Mean, std, min and max of the close over each trailing window, over the current close."""
    statistics = rolling_statistics(close, rows, windows, ROLLING_STATISTICS)
    current = pick(close, rows)
    return {
        f"close_{name}_ratio_{window}": value / current
        for (name, window), value in statistics.items()
    }


def _moving_average_ratios(
    close: np.ndarray, rows: SymbolRows, pairs: list[dict[str, int]]
) -> Columns:
    """Fast over slow simple moving average of the close, per (fast, slow) pair."""
    return {
        f"sma_ratio_{pair['fast']}_{pair['slow']}": (
            rolling_statistic(close, rows, pair["fast"], "mean")
            / rolling_statistic(close, rows, pair["slow"], "mean")
        )
        for pair in pairs
    }


def _momentum(close: np.ndarray, rows: SymbolRows, params: dict[str, Any]) -> Columns:
    """RSI and MACD (line, signal, histogram; MACD over the close so it is scale-free)."""
    tail_weight = params["exponential_tail_weight"]
    macd = params["macd"]
    line, signal = moving_average_convergence_divergence(
        close,
        rows,
        ema_weights(macd["fast_span"], tail_weight),
        ema_weights(macd["slow_span"], tail_weight),
        ema_weights(macd["signal_span"], tail_weight),
    )
    rsi_period = params["rsi_period"]
    return {
        f"rsi_{rsi_period}": relative_strength_index(
            close, rows, wilder_weights(rsi_period, tail_weight)
        ),
        "macd_line": line,
        "macd_signal": signal,
        "macd_histogram": line - signal,
    }


def _ranges(bars: BarArrays, rows: SymbolRows, params: dict[str, Any]) -> Columns:
    """High-low range and Wilder's average true range, both over the close."""
    high, low, close = bars.high, bars.low, bars.close
    atr_period = params["atr_period"]
    weights = wilder_weights(atr_period, params["exponential_tail_weight"])
    return {
        "range_ratio": pick((high - low) / close, rows),
        f"atr_ratio_{atr_period}": weighted_mean(true_range(high, low, close, rows), rows, weights)
        / pick(close, rows),
    }


def bar_volatilities(bars: BarArrays) -> Columns:
    """Garman-Klass and Parkinson volatility of every bar from its own OHLC."""
    return {
        "garman_klass_volatility": garman_klass_volatility(
            bars.open, bars.high, bars.low, bars.close
        ),
        "parkinson_volatility": parkinson_volatility(bars.high, bars.low),
    }


def _volatilities(per_bar: Columns, rows: SymbolRows, windows: list[int]) -> Columns:
    """Each bar's volatilities and their RMS over each trailing window."""
    windowed = {
        f"{name}_{window}": np.sqrt(mean)
        for name, volatility in per_bar.items()
        for (_, window), mean in rolling_statistics(volatility**2, rows, windows, ["mean"]).items()
    }
    return {name: pick(volatility, rows) for name, volatility in per_bar.items()} | windowed


def _market_volatility(
    volatility: np.ndarray, rows: SymbolRows, crypto: np.ndarray, windows: dict[str, dict[str, int]]
) -> Columns:
    """HAR components: RMS volatility over one day / one week in each market's own bars."""
    lengths = sorted({length for market in windows.values() for length in market.values()})
    means = rolling_statistics(volatility**2, rows, lengths, ["mean"])
    return {
        f"har_volatility_{span}": np.where(
            pick(crypto, rows),
            np.sqrt(means["mean", windows["crypto"][span]]),
            np.sqrt(means["mean", windows["stock"][span]]),
        )
        for span in ("day", "week")
    }


def crypto_rows(symbols: np.ndarray, rows: SymbolRows, calendar: MarketCalendar) -> np.ndarray:
    """Mask of the rows that are crypto pairs, asked once per symbol run."""
    heads = rows.position == 0
    flags = np.array([calendar.is_crypto(str(symbol)) for symbol in symbols[heads]], dtype=bool)
    return flags[np.cumsum(heads) - 1]


def _utc_hour(timestamp_ns: np.ndarray) -> np.ndarray:
    """Hour of day (UTC) of epoch nanoseconds."""
    return timestamp_ns // HOUR_NS % HOURS_PER_DAY


def _intraday_slot(
    bars: BarArrays, wanted: np.ndarray, crypto: np.ndarray, calendar: MarketCalendar
) -> Columns:
    """Market (1 = crypto) and hour of the bar in its session: UTC hour for crypto, session hour
    for stocks (0 = the opening bar), the key of the intraday volatility pattern."""
    session_hour = _utc_hour(bars.timestamp_ns[wanted])
    stock = np.flatnonzero(~crypto)
    if len(stock):
        session_hour[stock] = calendar.session_hours(bars.timestamps(wanted[stock]))
    return {"is_crypto": crypto.astype("float64"), "session_hour": session_hour.astype("float64")}


def _volume_zscores(volume: np.ndarray, rows: SymbolRows, windows: list[int]) -> Columns:
    """Standard score of log(1 + volume) within each trailing window."""
    log_volume = np.log1p(volume)
    statistics = rolling_statistics(log_volume, rows, windows, ["mean", "std"])
    current = pick(log_volume, rows)
    return {
        f"volume_zscore_{window}": zscore(
            current, statistics["mean", window], statistics["std", window]
        )
        for window in windows
    }


def _calendar(timestamp_ns: np.ndarray) -> Columns:
    """Hour of day and day of week (UTC) as points on a circle."""
    days = timestamp_ns // (HOUR_NS * HOURS_PER_DAY)
    hour_sin, hour_cos = cyclical(_utc_hour(timestamp_ns), HOURS_PER_DAY)
    day_sin, day_cos = cyclical((days + EPOCH_DAY_OF_WEEK) % DAYS_PER_WEEK, DAYS_PER_WEEK)
    return {
        "hour_sin": hour_sin,
        "hour_cos": hour_cos,
        "day_of_week_sin": day_sin,
        "day_of_week_cos": day_cos,
    }


def feature_arrays(
    bars: BarArrays, params: dict[str, Any], at: np.ndarray | None = None
) -> Columns:
    """Every float64 feature, NaN until its lookback is met, in feature order: of every bar, or
    of the bars at the rows `at` (each from its own symbol's rows up to it)."""
    rows = symbol_rows(bars.symbol, at)
    returns = log_returns(bars.close, rows)
    windows = params["rolling_windows"]
    calendar = MarketCalendar.from_params(params["calendar"])
    crypto = crypto_rows(bars.symbol, rows, calendar)
    per_bar = bar_volatilities(bars)
    wanted = pick(np.arange(len(bars.symbol)), rows)
    return {
        "log_return": pick(returns, rows),
        **_lagged_returns(returns, rows, params["return_lags"]),
        **_return_statistics(returns, rows, windows),
        **_price_statistics(bars.close, rows, windows),
        **_moving_average_ratios(bars.close, rows, params["moving_average_pairs"]),
        **_momentum(bars.close, rows, params),
        **_ranges(bars, rows, params),
        **_volatilities(per_bar, rows, windows),
        **_market_volatility(
            per_bar["garman_klass_volatility"], rows, crypto, params["har_windows"]
        ),
        **_volume_zscores(bars.volume, rows, windows),
        **_calendar(bars.timestamp_ns[wanted]),
        **_intraday_slot(bars, wanted, crypto[wanted], calendar),
    }


def compute_features(bars: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """One row per bar: symbol, timestamp and every float64 feature, NaN until its lookback is met."""
    bars = sort_bars(bars)
    features = feature_arrays(BarArrays.from_frame(bars), params)
    return pd.DataFrame({column: bars[column] for column in KEY_COLUMNS} | features)


def feature_columns(params: dict[str, Any]) -> list[str]:
    """Names of the model's feature columns, in compute_features' order (close is not one)."""
    return list(feature_arrays(BarArrays.from_frame(empty_bars()), params))


def required_lookback(params: dict[str, Any]) -> int:
    """Bars of a symbol, the current one included, that define every feature of the current bar."""
    tail_weight = params["exponential_tail_weight"]
    macd = params["macd"]
    macd_length = max(
        len(ema_weights(macd["fast_span"], tail_weight)),
        len(ema_weights(macd["slow_span"], tail_weight)),
    )
    bars_before = [
        max(params["return_lags"]) + 1,  # a lagged return also needs the close before it
        *params["rolling_windows"],  # a window of returns needs the close before it
        *(window for market in params["har_windows"].values() for window in market.values()),
        max(pair["slow"] for pair in params["moving_average_pairs"]) - 1,
        len(wilder_weights(params["rsi_period"], tail_weight)),  # price changes need one more
        len(wilder_weights(params["atr_period"], tail_weight)),  # true range needs one more
        macd_length - 1 + len(ema_weights(macd["signal_span"], tail_weight)) - 1,  # signal of line
    ]
    return max(bars_before) + 1


def compute_targets(bars: pd.DataFrame) -> pd.DataFrame:
    """Next-bar log return and Garman-Klass volatility per bar; NaN on each symbol's last bar."""
    bars = sort_bars(bars)
    arrays = BarArrays.from_frame(bars)
    rows = symbol_rows(arrays.symbol)
    volatility = garman_klass_volatility(arrays.open, arrays.high, arrays.low, arrays.close)
    targets = {
        "target_log_return": np.log(shift(arrays.close, rows, -1) / arrays.close),
        "target_volatility": shift(volatility, rows, -1),
    }
    return pd.DataFrame({column: bars[column] for column in KEY_COLUMNS} | targets)
