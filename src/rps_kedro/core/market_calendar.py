"""Which hours a symbol trades: crypto pairs (BASE-QUOTE) 24/7, stocks in exchange sessions.

Stock sessions come from `exchange_calendars` (holidays, early closes, DST). A stock's hourly bar
starts on the hour in exchange local time: the first bar of a session is labelled by the hour that
contains the open (09:00 covers 09:30-10:00 on the NYSE), the last one starts at the hour before the
close (15:00; 12:00 on a 13:00 early close). The bar table of the configured session range is built
once per process and looked up with binary search; stock timestamps outside that range raise
CalendarRangeError (widen `first_session` / `last_session` in conf/base/globals.yml).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import exchange_calendars as xcals
import numpy as np
import pandas as pd

HOUR = pd.Timedelta(hours=1)
HOUR_NS = HOUR.value
LEGACY_KEYS = ("exchange_timezone", "session_open_hour", "session_close_hour")
logger = logging.getLogger(__name__)


class CalendarRangeError(ValueError):
    """A stock timestamp lies outside the session range the exchange calendar was built for."""


@dataclass(frozen=True)
class SessionBars:
    """Every hourly bar start of an exchange's sessions (UTC nanoseconds, sorted) and its slot."""

    starts: np.ndarray
    session_hour: np.ndarray
    session_bars: np.ndarray
    covered_from: pd.Timestamp
    covered_to: pd.Timestamp
    timezone: str
    regular_open_hour: int


def _local_hour_floor(times: pd.Series, timezone: str) -> pd.Series:
    """Floor UTC times to the hour of the exchange's local clock, back in UTC."""
    return times.dt.tz_convert(timezone).dt.floor("h").dt.tz_convert("UTC")


def _local_hour_ceil(times: pd.Series, timezone: str) -> pd.Series:
    """Ceil UTC times to the hour of the exchange's local clock, back in UTC."""
    return times.dt.tz_convert(timezone).dt.ceil("h").dt.tz_convert("UTC")


def _covered_bounds(calendar: xcals.ExchangeCalendar) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Local midnight of the first session and of the day after the last, in UTC."""
    first = pd.Timestamp(calendar.first_session).tz_localize(calendar.tz).tz_convert("UTC")
    after_last = pd.Timestamp(calendar.last_session) + pd.Timedelta(days=1)
    return first, after_last.tz_localize(calendar.tz).tz_convert("UTC")


@lru_cache(maxsize=8)
def session_bars(exchange: str, first_session: str, last_session: str | None) -> SessionBars:
    """The bar table of an exchange's sessions in a range, built once per process."""
    calendar = xcals.get_calendar(exchange, start=first_session, end=last_session)
    timezone = str(calendar.tz)
    first = _local_hour_floor(calendar.opens, timezone).to_numpy("datetime64[ns]").view("i8")
    last = _local_hour_ceil(calendar.closes, timezone).to_numpy("datetime64[ns]").view("i8")
    counts = (last - first) // HOUR_NS
    session_hour = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    covered_from, covered_to = _covered_bounds(calendar)
    return SessionBars(
        starts=np.repeat(first, counts) + session_hour * HOUR_NS,
        session_hour=session_hour,
        session_bars=np.repeat(counts, counts),
        covered_from=covered_from,
        covered_to=covered_to,
        timezone=timezone,
        regular_open_hour=calendar.open_times[-1][1].hour,
    )


def _utc_ns(timestamps: pd.DatetimeIndex) -> np.ndarray:
    """Timestamps as UTC nanoseconds since the epoch."""
    return timestamps.tz_convert("UTC").as_unit("ns").asi8


def _from_utc_ns(values: np.ndarray, unit: str) -> pd.DatetimeIndex:
    """UTC nanoseconds back to tz-aware UTC timestamps in the given unit."""
    stamps = pd.DatetimeIndex(values, dtype="datetime64[ns, UTC]")
    return stamps if unit == "ns" else stamps.as_unit(unit)


@dataclass(frozen=True)
class MarketCalendar:
    """Exchange sessions for stocks; crypto pairs are written BASE-QUOTE and trade every hour."""

    exchange: str = "XNYS"
    first_session: str = "2000-01-01"
    last_session: str | None = None
    pair_separator: str = "-"

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> MarketCalendar:
        """Build from config, ignoring the weekday-rule keys that models logged earlier carry."""
        legacy = [key for key in LEGACY_KEYS if key in params]
        if legacy:
            logger.warning(
                "Ignoring the weekday-rule calendar keys %s (a model logged earlier)", legacy
            )
        return cls(**{key: value for key, value in params.items() if key not in LEGACY_KEYS})

    @property
    def bars(self) -> SessionBars:
        """The exchange's bar table for the configured session range (cached per process)."""
        return session_bars(self.exchange, self.first_session, self.last_session)

    def is_crypto(self, symbol: str) -> bool:
        """Tell whether a symbol is a crypto pair such as BTC-USD."""
        return self.pair_separator in symbol

    def crypto_mask(self, symbols: pd.Series) -> np.ndarray:
        """Boolean mask of the crypto pairs among the symbols (one test per distinct symbol)."""
        codes, distinct = pd.factorize(np.asarray(symbols, dtype=object))
        flags = [self.is_crypto(str(symbol)) for symbol in distinct]
        return np.array([*flags, False])[codes]  # code -1 (a missing symbol) is not crypto

    def next_bar_range(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """Stock timestamps in [first, last) whose next bar the calendar knows (builds the table)."""
        bars = self.bars
        return bars.covered_from, _from_utc_ns(bars.starts[-1:], "ns")[0]

    def _check_range(self, values: np.ndarray) -> None:
        """Raise CalendarRangeError if any stock timestamp lies outside the calendar's sessions."""
        bars = self.bars
        low, high = bars.covered_from.value, bars.covered_to.value
        outside = (values < low) | (values >= high)
        if outside.any():
            first = _from_utc_ns(values[outside][:1], "ns")[0]
            raise CalendarRangeError(
                f"{first} is outside the {self.exchange} sessions "
                f"[{bars.covered_from}, {bars.covered_to}); widen market_calendar.first_session / "
                "last_session in conf/base/globals.yml"
            )

    def _bar_index(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Position of each UTC-ns timestamp in the bar table and whether it is a bar start."""
        starts = self.bars.starts
        index = np.searchsorted(starts, values)
        clipped = np.minimum(index, len(starts) - 1)
        return clipped, starts[clipped] == values

    def session_hours(self, timestamps: pd.DatetimeIndex) -> np.ndarray:
        """Hours since the stock session opened (0 = the opening bar); outside a session, hours
        since the regular opening hour of that local day."""
        values = _utc_ns(timestamps)
        bars = self.bars
        local_hour = timestamps.tz_convert(bars.timezone).hour.to_numpy()
        inside = (values >= bars.starts[0]) & (values <= bars.starts[-1])
        index, hit = self._bar_index(np.where(inside, values, bars.starts[0]))
        fallback = local_hour - bars.regular_open_hour
        return np.where(inside & hit, bars.session_hour[index], fallback)

    def bars_in_session(self, timestamps: pd.DatetimeIndex) -> np.ndarray:
        """Number of hourly bars in each stock bar's session (7 on a NYSE day, 4 on an early
        close); 0 for timestamps that are not stock bar starts."""
        values = _utc_ns(timestamps)
        self._check_range(values)
        index, hit = self._bar_index(values)
        return np.where(hit, self.bars.session_bars[index], 0)

    def trading_hours(
        self, symbol: str, start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DatetimeIndex:
        """Return the UTC hour starts in [start, end] at which the symbol has a bar."""
        first = pd.Timestamp(start).tz_convert("UTC").ceil("h")
        last = pd.Timestamp(end).tz_convert("UTC").floor("h")
        if self.is_crypto(symbol):
            return pd.date_range(first, last, freq="h")
        self._check_range(np.array([first.value, last.value]))
        starts = self.bars.starts
        window = starts[
            np.searchsorted(starts, first.value) : np.searchsorted(starts, last.value, "right")
        ]
        return _from_utc_ns(window, "ns")

    def next_bar_starts(self, symbols: pd.Series, timestamps: pd.Series) -> pd.Series:
        """Start of the bar after each (symbol, bar start): the next hour, or the next session hour."""
        stamps = pd.DatetimeIndex(timestamps)
        values = _utc_ns(stamps)
        upcoming = values + HOUR_NS
        stock = ~self.crypto_mask(symbols)
        if stock.any():
            upcoming[stock] = self.next_stock_bar_ns(values[stock])
        return pd.Series(_from_utc_ns(upcoming, stamps.unit), index=timestamps.index)

    def next_stock_bar_ns(self, values: np.ndarray) -> np.ndarray:
        """The first stock bar start after each UTC-ns timestamp."""
        self._check_range(values)
        starts = self.bars.starts
        index = np.searchsorted(starts, values, side="right")
        if (index >= len(starts)).any():
            raise CalendarRangeError(
                f"no {self.exchange} session after {_from_utc_ns(values.max(keepdims=True), 'ns')[0]}"
                " in the calendar range; widen market_calendar.last_session"
            )
        return starts[index]

    def in_session(self, timestamps: pd.DatetimeIndex) -> np.ndarray:
        """Mask of UTC hour starts that are stock bars of an exchange session."""
        return self.stock_bar_mask_ns(_utc_ns(timestamps))

    def stock_bar_mask_ns(self, values: np.ndarray) -> np.ndarray:
        """Mask of UTC-ns timestamps that are stock bars of an exchange session."""
        self._check_range(values)
        return self._bar_index(values)[1]
