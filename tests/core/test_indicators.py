"""Indicator formulas on bars whose values can be checked by hand."""

import math

import numpy as np

from rps_kedro.core.indicators import (
    cyclical,
    garman_klass_volatility,
    log_returns,
    moving_average_convergence_divergence,
    parkinson_volatility,
    relative_strength_index,
    true_range,
    zscore,
)
from rps_kedro.core.per_symbol import symbol_rows

ONE_SYMBOL = symbol_rows(np.array(["BTC-USD"] * 6, dtype=object))


def test_log_returns_start_with_nan_and_follow_the_close():
    rows = symbol_rows(np.array(["A", "A", "A", "B", "B"], dtype=object))
    returns = log_returns(np.array([100.0, 110.0, 121.0, 50.0, 25.0]), rows)
    np.testing.assert_allclose(
        returns, [np.nan, math.log(1.1), math.log(1.1), np.nan, math.log(0.5)]
    )


def test_garman_klass_volatility_of_a_known_bar():
    # log(H/L) = 0.04, log(C/O) = 0.01: sqrt(0.5 * 0.04**2 - (2 ln 2 - 1) * 0.01**2) = 0.027593
    open_, close = np.array([100.0]), np.array([100 * math.exp(0.01)])
    high, low = np.array([100 * math.exp(0.03)]), np.array([100 * math.exp(-0.01)])
    np.testing.assert_allclose(garman_klass_volatility(open_, high, low, close), [0.0275929441])


def test_garman_klass_volatility_of_a_doji_is_the_range_over_root_two():
    price, high, low = np.array([100.0]), np.array([102.0]), np.array([98.0])
    np.testing.assert_allclose(
        garman_klass_volatility(price, high, low, price), [math.log(102 / 98) / math.sqrt(2)]
    )


def test_parkinson_volatility_of_a_known_bar():
    high, low = np.array([100 * math.exp(0.04)]), np.array([100.0])
    # 0.04 / sqrt(4 ln 2)
    np.testing.assert_allclose(parkinson_volatility(high, low), [0.0240224482])


def test_true_range_counts_the_gap_from_the_previous_close():
    rows = symbol_rows(np.array(["A", "A", "A"], dtype=object))
    high, low, close = (
        np.array([101.0, 104, 99]),
        np.array([99.0, 101, 97]),
        np.array([100.0, 103, 98]),
    )
    # bar 1 gaps up from 100 to a 101-104 range: 4; bar 2 gaps down from 103 to 97-99: 6
    np.testing.assert_array_equal(true_range(high, low, close, rows), [np.nan, 4, 6])


def test_rsi_is_100_when_rising_0_when_falling_and_50_when_flat():
    weights = np.array([0.5, 0.3, 0.2])
    rising = relative_strength_index(np.arange(1.0, 7.0), ONE_SYMBOL, weights)
    falling = relative_strength_index(np.arange(7.0, 1.0, -1), ONE_SYMBOL, weights)
    flat = relative_strength_index(np.full(6, 5.0), ONE_SYMBOL, weights)
    np.testing.assert_array_equal(rising, [np.nan] * 3 + [100.0] * 3)
    np.testing.assert_array_equal(falling, [np.nan] * 3 + [0.0] * 3)
    np.testing.assert_array_equal(flat, [np.nan] * 3 + [50.0] * 3)


def test_rsi_weighs_gains_against_losses():
    close = np.array([10.0, 11, 10, 12, 12, 12])
    # at bar 3 the changes newest first are +2, -1, +1: gains 0.5*2 + 0.2*1, losses 0.3*1
    rsi = relative_strength_index(close, ONE_SYMBOL, np.array([0.5, 0.3, 0.2]))
    assert rsi[3] == 100 * 1.2 / (1.2 + 0.3)


def test_macd_of_a_constant_price_is_zero():
    line, signal = moving_average_convergence_divergence(
        np.full(6, 50.0),
        ONE_SYMBOL,
        np.array([0.6, 0.4]),
        np.array([0.5, 0.3, 0.2]),
        np.ones(2) / 2,
    )
    np.testing.assert_array_equal(line, [np.nan, np.nan, 0, 0, 0, 0])
    np.testing.assert_array_equal(signal, [np.nan, np.nan, np.nan, 0, 0, 0])


def test_macd_is_the_fast_minus_slow_mean_over_the_close():
    close = np.array([1.0, 2, 4, 8, 16, 32])
    line, _ = moving_average_convergence_divergence(
        close, ONE_SYMBOL, np.array([1.0]), np.array([0.5, 0.5]), np.array([1.0])
    )
    np.testing.assert_allclose(line[1:], (close[1:] - (close[1:] + close[:-1]) / 2) / close[1:])


def test_zscore_is_zero_without_spread_and_keeps_nan():
    scores = zscore(
        np.array([1.0, 3.0, 5.0, 2.0]), np.array([2.0, 2, 5, np.nan]), np.array([1.0, 2, 0, np.nan])
    )
    np.testing.assert_array_equal(scores, [-1.0, 0.5, 0.0, np.nan])


def test_cyclical_puts_the_cycle_ends_together():
    sin, cos = cyclical(np.array([0, 6, 12, 18, 24]), 24)
    np.testing.assert_allclose(sin, [0, 1, 0, -1, 0], atol=1e-15)
    np.testing.assert_allclose(cos, [1, 0, -1, 0, 1], atol=1e-15)
