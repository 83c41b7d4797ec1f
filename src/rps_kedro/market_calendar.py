"""Which hours a symbol trades: crypto pairs (BASE-QUOTE) 24/7, stocks in exchange sessions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class MarketCalendar:
    """Exchange session for stocks; crypto pairs are written BASE-QUOTE and trade every hour."""

    exchange_timezone: str = "America/New_York"
    session_open_hour: int = 9
    session_close_hour: int = 16
    pair_separator: str = "-"

    def is_crypto(self, symbol: str) -> bool:
        """Tell whether a symbol is a crypto pair such as BTC-USD."""
        return self.pair_separator in symbol

    def crypto_mask(self, symbols: pd.Series) -> np.ndarray:
        """Boolean mask of the crypto pairs among the symbols (one test per distinct symbol)."""
        return symbols.astype(str).str.contains(self.pair_separator, regex=False).to_numpy(bool)

    def session_hours(self, timestamps: pd.DatetimeIndex) -> np.ndarray:
        """Hours since the stock session opened (0 = the opening bar), in exchange time."""
        return (
            timestamps.tz_convert(self.exchange_timezone).hour.to_numpy() - self.session_open_hour
        )

    def trading_hours(
        self, symbol: str, start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DatetimeIndex:
        """Return the UTC hour starts in [start, end] at which the symbol has a bar."""
        hours = pd.date_range(
            pd.Timestamp(start).tz_convert("UTC").ceil("h"),
            pd.Timestamp(end).tz_convert("UTC").floor("h"),
            freq="h",
        )
        if self.is_crypto(symbol):
            return hours
        return hours[self.in_session(hours)]

    def next_bar_starts(self, symbols: pd.Series, timestamps: pd.Series) -> pd.Series:
        """Start of the bar after each (symbol, bar start): the next hour, or the next session hour."""
        upcoming = pd.DatetimeIndex(timestamps) + pd.Timedelta(hours=1)
        crypto = self.crypto_mask(symbols)
        pending = ~crypto & ~np.asarray(self.in_session(upcoming))
        while pending.any():
            upcoming = upcoming.where(~pending, upcoming + pd.Timedelta(hours=1))
            pending &= ~np.asarray(self.in_session(upcoming))
        return pd.Series(upcoming, index=timestamps.index)

    def in_session(self, timestamps: pd.DatetimeIndex) -> pd.Index:
        """Mask of UTC hour starts that fall inside the stock exchange's weekday session."""
        local = timestamps.tz_convert(self.exchange_timezone)
        return (
            (local.dayofweek < 5)
            & (local.hour >= self.session_open_hour)
            & (local.hour < self.session_close_hour)
        )
