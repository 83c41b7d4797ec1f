"""Logged forecasts and bars for live scoring: a crypto pair with a bar that never came, a stock
across a weekend and the switch to summer time, two model versions, a duplicate, a pending one."""

import numpy as np
import pandas as pd
import pytest

from tests.conftest import project_parameters

UTC = "UTC"
FRIDAY_CLOSE_BAR = pd.Timestamp("2026-03-06 20:00", tz=UTC)  # AAPL 15:00 EST, the last of Friday
MONDAY_OPEN_BAR = pd.Timestamp("2026-03-09 13:00", tz=UTC)  # 09:00 EDT: the clocks moved on Sunday


def _bars(symbol: str, times: list[pd.Timestamp], closes: list[float]) -> pd.DataFrame:
    closes = np.array(closes)
    return pd.DataFrame(
        {
            "symbol": symbol,
            "timestamp": times,
            "open": closes * 0.999,
            "high": closes * 1.002,
            "low": closes * 0.997,
            "close": closes,
            "volume": 10.0,
        }
    )


@pytest.fixture
def bars() -> pd.DataFrame:
    """BTC-USD from 00:00 to 05:00 on Friday without its 03:00 bar (it never came); AAPL's
    Friday close bar and Monday's opening bar across a weekend and the switch to summer time."""
    hours = [pd.Timestamp("2026-03-06", tz=UTC) + pd.Timedelta(hours=h) for h in (0, 1, 2, 4, 5)]
    btc = _bars("BTC-USD", hours, [100.0, 101.0, 100.5, 102.0, 101.5])
    aapl = _bars("AAPL", [FRIDAY_CLOSE_BAR, MONDAY_OPEN_BAR], [200.0, 204.0])
    return pd.concat([btc, aapl], ignore_index=True)


def _forecast(symbol, bar, next_bar, version="3", request="r1", log_return=0.001, vol=0.002):
    return {
        "request_id": request,
        "served_at": (bar + pd.Timedelta(hours=1, minutes=1)).isoformat(),
        "source": "http",
        "model_name": "rps_kedro",
        "model_version": version,
        "model_alias": "champion",
        "symbol": symbol,
        "timestamp": bar.isoformat(),
        "prediction_for": next_bar.isoformat(),
        "predicted_log_return": log_return,
        "predicted_volatility": vol,
        "persistence_log_return": 0.0,
        "persistence_volatility": 0.003,
        "har_log_return": 0.0,
        "har_volatility": 0.0025,
        "out_of_range_share": 0.1,
    }


def _hour(h: int) -> pd.Timestamp:
    return pd.Timestamp("2026-03-06", tz=UTC) + pd.Timedelta(hours=h)


@pytest.fixture
def logged() -> dict:
    """Two hourly partitions as the PartitionedDataset loads them (lazy loaders)."""
    first = [
        _forecast("BTC-USD", _hour(0), _hour(1), request="a", log_return=0.004),
        _forecast("BTC-USD", _hour(0), _hour(1), request="a", log_return=0.004),  # logged twice
        _forecast("BTC-USD", _hour(1), _hour(2), request="b", log_return=0.002, version="4"),
        _forecast("BTC-USD", _hour(2), _hour(3), request="c"),  # its bar never came
        _forecast("AAPL", FRIDAY_CLOSE_BAR, MONDAY_OPEN_BAR, request="d", log_return=0.01),
    ]
    monday = MONDAY_OPEN_BAR
    second = [_forecast("BTC-USD", monday, monday + pd.Timedelta(hours=1), request="e")]  # due
    return {
        "date=2026-03-06/hour=01/host-1": lambda: pd.DataFrame(first),
        "date=2026-03-09/hour=13/scheduled-0000": lambda: pd.DataFrame(second),
        "date=2026-02-01/hour=00/host-1": lambda: pytest.fail("older than lookback_days: unread"),
    }


@pytest.fixture
def params() -> dict:
    return {**project_parameters()["live_scoring"], "as_of": "2026-03-09 14:00+00:00"}
