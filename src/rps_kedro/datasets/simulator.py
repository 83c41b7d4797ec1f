"""The embedded market simulator: SIMULATED hourly bars with the structure of real markets.

Each symbol's path is generated from a fixed origin with random streams seeded by (seed, symbol),
so the same bar always has the same values whatever window is asked for: incremental runs see one
consistent market. Structure: stochastic log-volatility (clustering), Student-t shocks (fat tails),
intraday seasonality, volume rising with absolute returns, overnight gaps for stocks, and an
optional regime shift (higher volatility, a price jump, heavier volume) for drift tests.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from rps_kedro.core.market_calendar import MarketCalendar
from rps_kedro.datasets.base import MarketSourceDataset, utc_now

STREAMS = ("symbol", "volatility", "shock", "gap", "upper_wick", "lower_wick", "volume")


@dataclass(frozen=True)
class SimulatorProfile:
    """Per-asset-class dynamics of the simulated market."""

    stock_hourly_volatility: float = 0.004
    crypto_hourly_volatility: float = 0.008
    volatility_persistence: float = 0.985
    volatility_of_volatility: float = 0.12
    shock_degrees_of_freedom: float = 4.0
    # Stochastic volatility times Student-t shocks reaches x2 in one hour now and then; the real
    # hourly series (liquid stocks, major crypto) stay within ~12%, so the bar's move is clipped
    # there (times the regime shift's volatility multiplier after a shift).
    max_hourly_log_return: float = 0.12
    hourly_drift: float = 0.00002
    overnight_gap_volatility: float = 0.006
    range_scale: float = 0.6
    seasonality_amplitude: float = 0.8
    volume_return_sensitivity: float = 0.35
    volume_noise: float = 0.3
    stock_base_volume: float = 2.0e5
    crypto_base_volume: float = 1.5e3


@dataclass(frozen=True)
class RegimeShift:
    """From `at` on: volatility and volume multiplied, prices jump by `price_jump` (log)."""

    at: pd.Timestamp
    volatility_multiplier: float = 3.0
    volume_multiplier: float = 2.5
    price_jump: float = 0.15


def _streams(seed: int, symbol: str) -> dict[str, np.random.Generator]:
    """Independent generators per component, so a longer window never reshuffles a shorter one."""
    symbol_key = zlib.crc32(symbol.encode())
    return {
        name: np.random.default_rng([seed, symbol_key, index]) for index, name in enumerate(STREAMS)
    }


def _intraday_seasonality(
    hours: pd.DatetimeIndex, is_crypto: bool, calendar: MarketCalendar, amplitude: float
) -> np.ndarray:
    """Volatility multiplier by hour: U-shaped stock sessions, a US/EU-overlap peak for crypto."""
    if is_crypto:
        phase = 2 * np.pi * (hours.hour.to_numpy() - 15) / 24
        return 1 + 0.5 * amplitude * np.cos(phase)
    last_slot = np.maximum(calendar.bars_in_session(hours) - 1, 1)
    position = calendar.session_hours(hours) / last_slot
    return 0.7 + amplitude * (np.exp(-4 * position) + 0.4 * np.exp(-4 * (1 - position)))


def simulate_bars(
    symbol: str,
    hours: pd.DatetimeIndex,
    seed: int,
    profile: SimulatorProfile,
    calendar: MarketCalendar,
    regime_shift: RegimeShift | None = None,
    start_price: float | None = None,
) -> pd.DataFrame:
    """Simulate one symbol's bars on the given UTC hour starts, from `start_price` at the origin
    (None: a level drawn between 20 and 2,000)."""
    n = len(hours)
    rng = _streams(seed, symbol)
    is_crypto = calendar.is_crypto(symbol)
    base_vol = (
        profile.crypto_hourly_volatility if is_crypto else profile.stock_hourly_volatility
    ) * np.exp(rng["symbol"].normal(0, 0.25))
    drawn_price = np.exp(rng["symbol"].uniform(np.log(20), np.log(2000)))  # drawn either way:
    start_price = drawn_price if start_price is None else start_price  # the streams stay put
    base_volume = (profile.crypto_base_volume if is_crypto else profile.stock_base_volume) * np.exp(
        rng["symbol"].normal(0, 0.5)
    )

    phi, eta = profile.volatility_persistence, profile.volatility_of_volatility
    log_vol = lfilter([1.0], [1.0, -phi], eta * rng["volatility"].standard_normal(n))
    log_vol -= 0.5 * eta**2 / (1 - phi**2)
    seasonality = _intraday_seasonality(hours, is_crypto, calendar, profile.seasonality_amplitude)
    shift = regime_shift or RegimeShift(at=pd.Timestamp.max.tz_localize("UTC"))
    shifted = np.asarray(hours >= shift.at)
    regime = np.where(shifted, shift.volatility_multiplier, 1.0)
    volatility = base_vol * np.exp(log_vol) * seasonality * regime

    nu = profile.shock_degrees_of_freedom
    shocks = rng["shock"].standard_t(nu, n) / np.sqrt(nu / (nu - 2))
    cap = profile.max_hourly_log_return  # in the calm regime; a regime shift scales it too
    returns = profile.hourly_drift + np.clip(volatility / regime * shocks, -cap, cap) * regime

    gap_scale = np.full(n, 0.05) * volatility
    if not is_crypto:
        new_session = np.r_[True, np.diff(hours.asi8) > 3600 * 10**9]
        gap_scale = np.where(new_session, profile.overnight_gap_volatility, gap_scale)
    gaps = gap_scale * rng["gap"].standard_normal(n)
    if shifted.any():
        gaps[np.argmax(shifted)] += shift.price_jump

    log_open = np.log(start_price) + np.cumsum(gaps + np.r_[0.0, returns[:-1]])
    log_close = log_open + returns
    wick_scale = volatility * profile.range_scale
    upper_wick = np.abs(rng["upper_wick"].standard_normal(n)) * wick_scale
    lower_wick = np.abs(rng["lower_wick"].standard_normal(n)) * wick_scale
    open_, close = np.exp(log_open), np.exp(log_close)
    high = np.maximum(open_, close) * np.exp(upper_wick)
    low = np.minimum(open_, close) * np.exp(-lower_wick)

    activity = profile.volume_return_sensitivity * np.abs(returns) / base_vol
    volume = (
        base_volume
        * seasonality
        * np.where(shifted, shift.volume_multiplier, 1.0)
        * np.exp(activity + profile.volume_noise * rng["volume"].standard_normal(n))
    )
    return pd.DataFrame(
        {
            "symbol": symbol,
            "timestamp": hours,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
        }
    )


class SimulatedMarketDataset(MarketSourceDataset):
    """SIMULATED market source: deterministic for a seed, same contract as the real providers."""

    provider = "simulator"

    def __init__(
        self,
        seed: int = 42,
        origin: str = "2024-01-01",
        end: str | None = None,
        profile: dict[str, float] | None = None,
        calendar: dict[str, Any] | None = None,
        regime_shift: dict[str, Any] | None = None,
        start_prices: dict[str, float] | None = None,
        backfill_hours: int = 24 * 365,
        clock: Callable[[], pd.Timestamp] = utc_now,
        metadata: dict[str, Any] | None = None,
    ):
        if end is not None:
            fixed_end = pd.Timestamp(end, tz="UTC") + pd.Timedelta(hours=1)
            clock = lambda: fixed_end  # noqa: E731
        super().__init__(backfill_hours=backfill_hours, clock=clock, metadata=metadata)
        self.seed = seed
        self.origin = pd.Timestamp(origin, tz="UTC")
        self.profile = SimulatorProfile(**(profile or {}))
        self.calendar = MarketCalendar.from_params(calendar or {})
        self.start_prices = start_prices or {}
        self.regime_shift = (
            None
            if not regime_shift
            else RegimeShift(**{**regime_shift, "at": pd.Timestamp(regime_shift["at"], tz="UTC")})
        )

    def _describe(self) -> dict[str, Any]:
        return {**super()._describe(), "seed": self.seed, "origin": str(self.origin)}

    def _fetch_range(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        hours = self.calendar.trading_hours(symbol, self.origin, end)
        bars = simulate_bars(
            symbol,
            hours,
            self.seed,
            self.profile,
            self.calendar,
            self.regime_shift,
            self.start_prices.get(symbol),
        )
        return bars.loc[bars["timestamp"] >= start]
