"""Checks across a request's bars: each kind of bad input names its first offending field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from pydantic import ValidationError

from rps_kedro.serving.request_checks import InvalidInput, check_bars
from rps_kedro.serving.schemas import Bar, BatchRequest, PredictRequest
from rps_kedro.serving.settings import settings

LIMITS = settings().limits
START = datetime(2025, 3, 1, tzinfo=UTC)


def make_bars(count: int = 10, start: datetime = START, step: timedelta = timedelta(hours=1)):
    return [
        Bar(timestamp=start + i * step, open=10 + i, high=12 + i, low=9 + i, close=11 + i, volume=5)
        for i in range(count)
    ]


def errors_of(bars, lookback: int = 5, max_gap_hours: int = 1, loc=()) -> list:
    with pytest.raises(InvalidInput) as raised:
        check_bars(bars, lookback=lookback, max_gap_hours=max_gap_hours, limits=LIMITS, loc=loc)
    return [(e.loc, e.type) for e in raised.value.errors]


def test_good_bars_become_columns_in_utc_nanoseconds():
    columns = check_bars(make_bars(), lookback=5, max_gap_hours=1, limits=LIMITS)
    assert columns.timestamp_ns[0] == np.datetime64("2025-03-01T00:00", "ns").astype(np.int64)
    assert columns.close.tolist() == [11.0 + i for i in range(10)]
    assert len(columns.tail(3).open) == 3 and columns.tail(3).open[-1] == 19


def test_naive_timestamps_are_utc_and_offsets_are_converted():
    naive = make_bars(start=START.replace(tzinfo=None))
    eastern = make_bars(start=START.astimezone(timezone(timedelta(hours=-5))))
    for bars in (naive, eastern):
        columns = check_bars(bars, lookback=5, max_gap_hours=1, limits=LIMITS)
        assert columns.timestamp_ns[0] == np.datetime64("2025-03-01T00:00", "ns").astype(np.int64)


def test_too_few_bars_names_the_list():
    assert errors_of(make_bars(4), lookback=5) == [(["bars"], "too_few_bars")]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"index": 3, "delta": timedelta(minutes=30)},
            (["bars", 3, "timestamp"], "timestamp_not_hourly"),
        ),
        (
            {"index": 4, "delta": timedelta(hours=-1)},
            (["bars", 4, "timestamp"], "timestamp_duplicate"),
        ),
        (
            {"index": 4, "delta": timedelta(hours=-3)},
            (["bars", 4, "timestamp"], "timestamp_unordered"),
        ),
        (
            {"index": 4, "delta": timedelta(hours=2)},
            (["bars", 4, "timestamp"], "timestamp_not_hourly"),
        ),
    ],
)
def test_timestamp_problems_name_the_bar(change, expected):
    bars = make_bars()
    bar = bars[change["index"]]
    bars[change["index"]] = bar.model_copy(update={"timestamp": bar.timestamp + change["delta"]})
    assert expected in errors_of(bars)


def test_a_stock_may_skip_hours_up_to_its_own_gap():
    bars = make_bars(3) + make_bars(3, start=START + timedelta(hours=70))
    check_bars(bars, lookback=5, max_gap_hours=LIMITS.max_gap_hours.stock, limits=LIMITS)
    assert errors_of(bars, max_gap_hours=LIMITS.max_gap_hours.crypto) == [
        (["bars", 3, "timestamp"], "timestamp_not_hourly")
    ]


def test_timestamps_outside_the_supported_range_are_rejected_before_other_checks():
    bars = make_bars()
    bars[2] = bars[2].model_copy(update={"timestamp": datetime(1, 1, 1, tzinfo=UTC)})
    assert errors_of(bars) == [(["bars", 2, "timestamp"], "timestamp_range")]


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        ({"high": 8.5}, (["bars", 2, "high"], "high_below_low")),
        ({"high": 12.5}, (["bars", 2, "high"], "high_below_open_close")),
        ({"low": 12.5}, (["bars", 2, "low"], "low_above_open_close")),
    ],
)
def test_inconsistent_ohlc_names_the_price(update, expected):
    bars = make_bars()
    bars[2] = bars[2].model_copy(update=update)
    assert errors_of(bars) == [expected]


def test_locations_are_prefixed_inside_a_batch():
    bars = make_bars(4)
    assert errors_of(bars, loc=("requests", 3)) == [(["requests", 3, "bars"], "too_few_bars")]


@pytest.mark.parametrize(
    ("bar", "field"),
    [
        ({"close": float("nan")}, "close"),
        ({"volume": float("inf")}, "volume"),
        ({"open": 0.0}, "open"),
        ({"low": -1.0}, "low"),
        ({"volume": -0.5}, "volume"),
        ({"high": LIMITS.max_price * 2}, "high"),
        ({"timestamp": "not a time"}, "timestamp"),
    ],
)
def test_pydantic_names_each_bad_value(bar, field):
    good = {
        "timestamp": "2025-03-01T00:00:00Z",
        "open": 1,
        "high": 1,
        "low": 1,
        "close": 1,
        "volume": 0,
    }
    with pytest.raises(ValidationError) as raised:
        PredictRequest.model_validate({"symbol": "BTC-USD", "bars": [good | bar]})
    assert [e["loc"] for e in raised.value.errors()] == [("bars", 0, field)]


def test_payload_limits_are_the_settings():
    bar = {
        "timestamp": "2025-03-01T00:00:00Z",
        "open": 1,
        "high": 1,
        "low": 1,
        "close": 1,
        "volume": 0,
    }
    with pytest.raises(ValidationError, match="at most"):
        PredictRequest.model_validate({"symbol": "X", "bars": [bar] * (LIMITS.max_bars + 1)})
    request = {"symbol": "X", "bars": [bar]}
    with pytest.raises(ValidationError, match="at most"):
        BatchRequest.model_validate({"requests": [request] * (LIMITS.max_symbols + 1)})
    with pytest.raises(ValidationError, match="pattern"):
        PredictRequest.model_validate({"symbol": "A|B", "bars": [bar]})
