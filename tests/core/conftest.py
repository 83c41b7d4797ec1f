"""Core test fixtures: the features parameters of the project and hand-made bars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rps_kedro.core.bars import conform_bars
from tests.conftest import project_parameters


@pytest.fixture
def feature_params() -> dict:
    """The `features:` parameters of the project."""
    return project_parameters()["features"]


def hand_bars(symbol: str, closes: list[float], start: str = "2025-01-06 00:00") -> pd.DataFrame:
    """Hourly bars of one symbol: open at the previous close, a 1% wick each side, volume 100."""
    close = np.asarray(closes, dtype="float64")
    open_ = np.r_[close[0], close[:-1]]
    return conform_bars(
        pd.DataFrame(
            {
                "symbol": symbol,
                "timestamp": pd.date_range(start, periods=len(close), freq="h", tz="UTC"),
                "open": open_,
                "high": np.maximum(open_, close) * 1.01,
                "low": np.minimum(open_, close) * 0.99,
                "close": close,
                "volume": 100.0,
            }
        )
    )
