"""The market simulator: contract, OHLC consistency, determinism, market hours, stylised facts."""

import numpy as np
import pandas as pd
import pytest
from kedro.io import DatasetError

from rps_kedro.core.bars import BAR_COLUMNS
from rps_kedro.core.market_calendar import MarketCalendar
from rps_kedro.datasets import SimulatedMarketDataset
from tests.conftest import BACKFILL_HOURS


def test_returns_the_bars_contract(simulated_bars):
    assert list(simulated_bars.columns) == BAR_COLUMNS
    assert str(simulated_bars["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert (simulated_bars[["open", "high", "low", "close", "volume"]].dtypes == "float64").all()
    assert not simulated_bars.duplicated(["symbol", "timestamp"]).any()
    assert (simulated_bars["timestamp"] == simulated_bars["timestamp"].dt.floor("h")).all()


def test_ohlc_is_consistent(simulated_bars):
    bars = simulated_bars
    assert (bars["low"] <= bars[["open", "close"]].min(axis=1)).all()
    assert (bars["high"] >= bars[["open", "close"]].max(axis=1)).all()
    assert (bars[["open", "high", "low", "close"]] > 0).all().all()
    assert (bars["volume"] > 0).all()


def test_deterministic_for_a_seed_and_different_across_seeds(simulator):
    again = SimulatedMarketDataset(seed=7, origin="2025-01-01", end="2025-06-30 23:00")
    other = SimulatedMarketDataset(seed=8, origin="2025-01-01", end="2025-06-30 23:00")
    pd.testing.assert_frame_equal(
        simulator.fetch("BTC-USD"),
        again.fetch("BTC-USD", None).tail(BACKFILL_HOURS).reset_index(drop=True),
    )
    assert not np.allclose(
        simulator.fetch("BTC-USD")["close"], other.fetch("BTC-USD").tail(BACKFILL_HOURS)["close"]
    )


def test_windows_agree_so_incremental_runs_see_one_market():
    early = SimulatedMarketDataset(
        seed=1, origin="2025-01-01", end="2025-02-01 00:00", backfill_hours=500
    )
    late = SimulatedMarketDataset(
        seed=1, origin="2025-01-01", end="2025-03-01 00:00", backfill_hours=2000
    )
    a, b = early.fetch("ETH-USD"), late.fetch("ETH-USD")
    overlap = b[b["timestamp"].isin(a["timestamp"])].reset_index(drop=True)
    assert len(overlap) == len(a) == 500
    pd.testing.assert_frame_equal(a, overlap)


def test_incremental_fetch_returns_only_newer_bars(simulator):
    since = pd.Timestamp("2025-06-30 20:00", tz="UTC")
    newer = simulator.fetch("BTC-USD", since)
    assert list(newer["timestamp"].dt.hour) == [21, 22, 23]
    assert simulator.fetch("BTC-USD", pd.Timestamp("2025-06-30 23:00", tz="UTC")).empty


def test_stocks_follow_exchange_hours_and_crypto_trades_around_the_clock(simulated_bars):
    calendar = MarketCalendar()
    stocks = simulated_bars[simulated_bars["symbol"] == "AAPL"]
    crypto = simulated_bars[simulated_bars["symbol"] == "BTC-USD"]
    assert calendar.in_session(pd.DatetimeIndex(stocks["timestamp"])).all()
    assert stocks["timestamp"].dt.dayofweek.max() <= 4
    assert len(crypto) == BACKFILL_HOURS
    assert crypto["timestamp"].diff().dropna().eq(pd.Timedelta(hours=1)).all()


def test_stylised_facts_of_real_markets():
    source = SimulatedMarketDataset(
        seed=3, origin="2024-01-01", end="2025-01-01 00:00", backfill_hours=8000
    )
    bars = source.fetch("BTC-USD")
    returns = np.log(bars["close"]).diff().dropna()
    absolute = returns.abs()
    assert returns.kurt() > 3, "fat tails"
    assert absolute.autocorr(lag=1) > 0.1, "volatility clustering"
    assert np.corrcoef(absolute, bars["volume"].iloc[1:])[0, 1] > 0.2, "volume rises with |return|"
    by_hour = absolute.groupby(bars["timestamp"].iloc[1:].dt.hour).mean()
    assert by_hour.max() / by_hour.min() > 1.3, "intraday seasonality"


def test_regime_shift_raises_volatility_and_volume():
    at = "2025-03-01 00:00"
    calm = SimulatedMarketDataset(
        seed=5, origin="2025-01-01", end="2025-04-01 00:00", backfill_hours=2000
    )
    shifted = SimulatedMarketDataset(
        seed=5,
        origin="2025-01-01",
        end="2025-04-01 00:00",
        backfill_hours=2000,
        regime_shift={"at": at, "volatility_multiplier": 3.0, "volume_multiplier": 2.0},
    )
    a, b = calm.fetch("BTC-USD"), shifted.fetch("BTC-USD")
    before = a["timestamp"] < pd.Timestamp(at, tz="UTC")
    pd.testing.assert_frame_equal(a[before], b[before])
    vol_a = np.log(a["close"]).diff()[~before].std()
    vol_b = np.log(b["close"]).diff()[~before].std()
    assert vol_b > 2.5 * vol_a
    assert b.loc[~before, "volume"].mean() > 1.5 * a.loc[~before, "volume"].mean()


def test_source_is_read_only(simulator):
    assert simulator.load() is simulator
    with pytest.raises(DatasetError, match="read-only"):
        simulator.save(pd.DataFrame())


def test_simulated_stocks_skip_exchange_holidays(simulated_bars):
    stocks = simulated_bars[simulated_bars["symbol"] == "AAPL"]
    days = set(stocks["timestamp"].dt.tz_convert("America/New_York").dt.date.astype(str))
    good_friday, memorial_day, juneteenth = "2025-04-18", "2025-05-26", "2025-06-19"
    assert not {good_friday, memorial_day, juneteenth} & days
    assert {"2025-04-17", "2025-05-27", "2025-06-20"} <= days


def test_a_configured_start_price_sets_the_level_not_the_moves():
    drawn = SimulatedMarketDataset(seed=42, origin="2024-01-01", end="2024-03-01 00:00")
    priced = SimulatedMarketDataset(
        seed=42, origin="2024-01-01", end="2024-03-01 00:00", start_prices={"BTC-USD": 42000.0}
    )
    a, b = drawn.fetch("BTC-USD"), priced.fetch("BTC-USD")
    assert b["open"].iloc[0] == pytest.approx(42000.0, rel=0.01)  # the origin's level, one move on
    for column in ("open", "high", "low", "close"):  # the same path, scaled
        np.testing.assert_allclose(b[column] / a[column], b["close"].iloc[0] / a["close"].iloc[0])
    np.testing.assert_array_equal(a["volume"], b["volume"])
    pd.testing.assert_frame_equal(drawn.fetch("ETH-USD"), priced.fetch("ETH-USD"))  # others drawn
