"""The replay tool's regime shift: every move of the path times the factor."""

import numpy as np
import pytest

from rps_kedro.core.indicators import garman_klass_volatility
from tools.replay_traffic import widened


@pytest.mark.parametrize("factor", [0.5, 4.0])
def test_widened_bars_scale_every_move_and_stay_consistent(simulated_bars, factor):
    bars = simulated_bars[simulated_bars["symbol"] == "BTC-USD"]
    shifted = widened(bars, factor)
    assert shifted["close"].iloc[0] == bars["close"].iloc[0]
    np.testing.assert_allclose(
        np.diff(np.log(shifted["close"])), factor * np.diff(np.log(bars["close"])), rtol=1e-9
    )
    assert (shifted["high"] >= shifted[["open", "close"]].max(axis=1)).all()
    assert (shifted["low"] <= shifted[["open", "close"]].min(axis=1)).all()
    columns = ["open", "high", "low", "close"]
    np.testing.assert_allclose(
        garman_klass_volatility(*(shifted[c].to_numpy() for c in columns)),
        factor * garman_klass_volatility(*(bars[c].to_numpy() for c in columns)),
        rtol=1e-9,
    )


def test_a_factor_of_one_sends_the_bars_as_recorded(simulated_bars):
    assert widened(simulated_bars, 1.0) is simulated_bars
