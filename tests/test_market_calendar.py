"""Trading hours: crypto every hour, stocks in the New York session across DST."""

import pandas as pd

from rps_kedro.market_calendar import MarketCalendar


def test_crypto_pairs_trade_every_hour():
    calendar = MarketCalendar()
    hours = calendar.trading_hours(
        "BTC-USD", pd.Timestamp("2025-03-08", tz="UTC"), pd.Timestamp("2025-03-09 23:00", tz="UTC")
    )
    assert len(hours) == 48
    assert calendar.is_crypto("BTC-USD") and not calendar.is_crypto("AAPL")


def test_stock_session_follows_new_york_clock_across_dst():
    calendar = MarketCalendar()
    winter = calendar.trading_hours(
        "AAPL", pd.Timestamp("2025-03-07", tz="UTC"), pd.Timestamp("2025-03-08", tz="UTC")
    )
    summer = calendar.trading_hours(
        "AAPL", pd.Timestamp("2025-03-10", tz="UTC"), pd.Timestamp("2025-03-11", tz="UTC")
    )
    assert list(winter.hour) == [14, 15, 16, 17, 18, 19, 20]
    assert list(summer.hour) == [13, 14, 15, 16, 17, 18, 19]


def test_stocks_do_not_trade_on_weekends():
    calendar = MarketCalendar()
    weekend = calendar.trading_hours(
        "AAPL", pd.Timestamp("2025-03-08", tz="UTC"), pd.Timestamp("2025-03-09 23:00", tz="UTC")
    )
    assert len(weekend) == 0
