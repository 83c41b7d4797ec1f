"""Trading hours: crypto every hour, stocks in NYSE sessions (holidays, early closes, DST)."""

import logging

import numpy as np
import pandas as pd
import pytest

from rps_kedro.core.market_calendar import CalendarRangeError, MarketCalendar
from tests.conftest import PROJECT_ROOT

REAL_IBM = PROJECT_ROOT.parent / "shared/data/real/IBM_1h.parquet"
WEEKDAY_RULE = {
    "exchange_timezone": "America/New_York",
    "session_open_hour": 9,
    "session_close_hour": 16,
    "pair_separator": "-",
}


def utc(stamp: str) -> pd.Timestamp:
    """A UTC timestamp."""
    return pd.Timestamp(stamp, tz="UTC")


def stock_day(day: str, symbol: str = "AAPL") -> pd.DatetimeIndex:
    """The stock's bar starts on one UTC calendar day."""
    return MarketCalendar().trading_hours(symbol, utc(day), utc(day) + pd.Timedelta(hours=23))


def next_bars(*stamps: str, symbol: str = "AAPL") -> list[pd.Timestamp]:
    """next_bar_starts for one symbol's UTC bar starts."""
    timestamps = pd.Series(pd.DatetimeIndex([utc(s) for s in stamps]))
    symbols = pd.Series([symbol] * len(stamps))
    return list(MarketCalendar().next_bar_starts(symbols, timestamps))


def test_crypto_pairs_trade_every_hour():
    calendar = MarketCalendar()
    hours = calendar.trading_hours("BTC-USD", utc("2025-03-08"), utc("2025-03-09 23:00"))
    assert len(hours) == 48
    assert calendar.is_crypto("BTC-USD") and not calendar.is_crypto("AAPL")


def test_crypto_mask_tests_each_symbol_and_treats_missing_as_stock():
    symbols = pd.Series(["BTC-USD", "AAPL", None, "BTC-USD", "ETH-USDT"])
    assert MarketCalendar().crypto_mask(symbols).tolist() == [True, False, False, True, True]


def test_stock_session_follows_new_york_clock_across_march_dst():
    assert list(stock_day("2025-03-07").hour) == [14, 15, 16, 17, 18, 19, 20]
    assert list(stock_day("2025-03-10").hour) == [13, 14, 15, 16, 17, 18, 19]


def test_stock_session_follows_new_york_clock_across_november_dst():
    assert list(stock_day("2025-10-31").hour) == [13, 14, 15, 16, 17, 18, 19]
    assert list(stock_day("2025-11-03").hour) == [14, 15, 16, 17, 18, 19, 20]


def test_stocks_do_not_trade_on_weekends():
    weekend = MarketCalendar().trading_hours("AAPL", utc("2025-03-08"), utc("2025-03-09 23:00"))
    assert len(weekend) == 0


def test_thanksgiving_is_closed_and_the_day_after_closes_at_one():
    assert len(stock_day("2025-11-27")) == 0
    assert list(stock_day("2025-11-28").hour) == [14, 15, 16, 17]  # 09:00-12:00 New York


@pytest.mark.parametrize(
    ("early_close", "holiday", "utc_hours"),
    [
        ("2025-07-03", "2025-07-04", [13, 14, 15, 16]),  # EDT: 09:00-12:00 New York
        ("2024-12-24", "2024-12-25", [14, 15, 16, 17]),  # EST
    ],
)
def test_early_close_has_four_bars_before_the_holiday(early_close, holiday, utc_hours):
    assert list(stock_day(early_close).hour) == utc_hours
    assert len(stock_day(holiday)) == 0


def test_session_hours_count_from_the_opening_bar_and_sessions_know_their_length():
    calendar = MarketCalendar()
    normal, early = stock_day("2025-11-26"), stock_day("2025-11-28")
    assert calendar.session_hours(normal).tolist() == list(range(7))
    assert calendar.session_hours(early).tolist() == list(range(4))
    assert set(calendar.bars_in_session(normal.append(early))) == {7, 4}
    after_hours = pd.DatetimeIndex([utc("2025-11-26 22:00")])  # 17:00 New York
    assert calendar.session_hours(after_hours).tolist() == [8]
    assert calendar.bars_in_session(after_hours).tolist() == [0]
    assert not calendar.in_session(after_hours).any()


def test_next_bar_inside_a_session_is_the_next_hour():
    assert next_bars("2025-11-26 15:00") == [utc("2025-11-26 16:00")]


def test_next_bar_skips_a_weekend_and_a_holiday():
    friday_last, memorial_day_tuesday = "2025-05-23 19:00", utc("2025-05-27 13:00")
    thursday_last, easter_monday = "2025-04-17 19:00", utc("2025-04-21 13:00")  # Good Friday
    assert next_bars(friday_last, thursday_last) == [memorial_day_tuesday, easter_monday]


def test_next_bar_respects_thanksgiving_and_the_early_close():
    wednesday_last, early_close_last = "2025-11-26 20:00", "2025-11-28 17:00"
    assert next_bars(wednesday_last, early_close_last) == [
        utc("2025-11-28 14:00"),
        utc("2025-12-01 14:00"),
    ]


def test_next_bar_of_crypto_is_the_next_hour_and_index_and_unit_are_kept():
    stamps = pd.Series(
        pd.DatetimeIndex([utc("2025-11-26 20:00"), utc("2025-11-26 20:00")]).as_unit("us"),
        index=[10, 11],
    )
    upcoming = MarketCalendar().next_bar_starts(pd.Series(["BTC-USD", "AAPL"]), stamps)
    assert upcoming.index.tolist() == [10, 11]
    assert upcoming.dtype == "datetime64[us, UTC]"
    assert upcoming.tolist() == [utc("2025-11-26 21:00"), utc("2025-11-28 14:00")]


def test_stock_dates_outside_the_calendar_range_raise_and_crypto_does_not():
    calendar = MarketCalendar(first_session="2025-01-01", last_session="2025-12-31")
    with pytest.raises(CalendarRangeError, match="first_session"):
        calendar.trading_hours("AAPL", utc("2024-12-30"), utc("2025-01-03"))
    with pytest.raises(CalendarRangeError, match="last_session"):
        calendar.next_bar_starts(pd.Series(["AAPL"]), pd.Series([utc("2025-12-31 20:00")]))
    assert len(calendar.trading_hours("BTC-USD", utc("1999-01-01"), utc("1999-01-02"))) == 25
    assert calendar.session_hours(pd.DatetimeIndex([utc("1999-01-04 15:00")])).tolist() == [1]


def test_legacy_weekday_rule_parameters_are_ignored_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="rps_kedro.core.market_calendar"):
        calendar = MarketCalendar.from_params(WEEKDAY_RULE)
    assert calendar == MarketCalendar()
    assert "session_open_hour" in caplog.text


@pytest.fixture(scope="module")
def ibm() -> pd.DataFrame:
    """The real IBM hourly bars (NYSE regular session), or skip."""
    if not REAL_IBM.exists():
        pytest.skip("real IBM bars not available")
    return pd.read_parquet(REAL_IBM)


def test_real_ibm_bars_are_exactly_the_trading_hours(ibm):
    calendar = MarketCalendar()
    stamps = pd.DatetimeIndex(ibm["timestamp"])
    expected = calendar.trading_hours("IBM", stamps.min(), stamps.max())
    assert calendar.in_session(stamps).all()
    assert len(expected) == len(stamps) == 3520
    assert expected.equals(stamps)


def test_real_ibm_early_closes_have_four_bars_and_the_rest_seven(ibm):
    stamps = pd.DatetimeIndex(ibm["timestamp"])
    days = stamps.tz_convert("America/New_York").date
    per_day = pd.Series(1, index=days).groupby(level=0).sum()
    early = per_day[per_day == 4].index.astype(str).tolist()
    assert early == ["2019-07-03", "2019-11-29", "2019-12-24", "2020-11-27", "2020-12-24"]
    assert set(per_day) == {4, 7}
    bars_in_session = MarketCalendar().bars_in_session(stamps)
    assert np.array_equal(bars_in_session, per_day.reindex(days).to_numpy())
