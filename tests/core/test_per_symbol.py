"""Per-symbol column operations on small hand-checkable inputs."""

import numpy as np
import pandas as pd
import pytest

from rps_kedro.core.per_symbol import (
    exponential_weights,
    rolling_statistic,
    shift,
    symbol_rows,
    weighted_mean,
)

SYMBOLS = np.array(["AAPL", "AAPL", "AAPL", "AAPL", "MSFT", "MSFT", "MSFT"], dtype=object)
VALUES = np.array([1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0])


def test_symbol_rows_locate_each_row_in_its_symbol():
    rows = symbol_rows(SYMBOLS)
    assert rows.first_row.tolist() == [0, 0, 0, 0, 4, 4, 4]
    assert rows.position.tolist() == [0, 1, 2, 3, 0, 1, 2]
    assert rows.rows_after.tolist() == [3, 2, 1, 0, 2, 1, 0]


def test_symbol_rows_of_nothing_is_empty():
    assert len(symbol_rows(np.array([], dtype=object)).position) == 0


@pytest.mark.parametrize(
    ("periods", "expected"),
    [
        (1, [np.nan, 1, 2, 3, np.nan, 10, 20]),
        (3, [np.nan, np.nan, np.nan, 1, np.nan, np.nan, np.nan]),
        (-1, [2, 3, 4, np.nan, 20, 30, np.nan]),
        (9, [np.nan] * 7),
    ],
)
def test_shift_never_crosses_symbols(periods, expected):
    np.testing.assert_array_equal(shift(VALUES, symbol_rows(SYMBOLS), periods), expected)


def test_shift_matches_pandas_groupby_shift():
    frame = pd.DataFrame({"symbol": SYMBOLS, "value": VALUES})
    for periods in (-2, 2):
        expected = frame.groupby("symbol")["value"].shift(periods).to_numpy()
        np.testing.assert_array_equal(shift(VALUES, symbol_rows(SYMBOLS), periods), expected)


def test_rolling_statistic_needs_a_full_window_of_its_own_symbol():
    rows = symbol_rows(SYMBOLS)
    np.testing.assert_array_equal(
        rolling_statistic(VALUES, rows, 2, "mean"), [np.nan, 1.5, 2.5, 3.5, np.nan, 15, 25]
    )
    np.testing.assert_array_equal(
        rolling_statistic(VALUES, rows, 3, "max"), [np.nan, np.nan, 3, 4, np.nan, np.nan, 30]
    )


def test_rolling_statistic_is_nan_while_the_window_holds_a_nan():
    values = np.array([np.nan, 1.0, 2.0, 3.0, np.nan, 5.0, 7.0])
    np.testing.assert_array_equal(
        rolling_statistic(values, symbol_rows(SYMBOLS), 2, "sum"),
        [np.nan, np.nan, 3, 5, np.nan, np.nan, 12],
    )


def test_exponential_weights_are_normalised_newest_first_and_cut_at_the_tail():
    weights = exponential_weights(alpha=0.5, tail_weight=0.1)
    # (1 - 0.5) ** 4 = 0.0625 < 0.1 <= 0.125: four terms 1, 1/2, 1/4, 1/8 over their sum 15/8
    np.testing.assert_allclose(weights, np.array([8, 4, 2, 1]) / 15)


def test_exponential_weights_of_alpha_one_is_the_last_value():
    np.testing.assert_array_equal(exponential_weights(alpha=1.0, tail_weight=1e-4), [1.0])


def test_weighted_mean_uses_exactly_the_weights_window_of_its_symbol():
    weights = np.array([0.5, 0.3, 0.2])
    averaged = weighted_mean(VALUES, symbol_rows(SYMBOLS), weights)
    np.testing.assert_allclose(
        averaged,
        [np.nan, np.nan, 0.5 * 3 + 0.3 * 2 + 0.2 * 1, 0.5 * 4 + 0.3 * 3 + 0.2 * 2]
        + [np.nan, np.nan, 0.5 * 30 + 0.3 * 20 + 0.2 * 10],
    )


def test_weighted_mean_of_nothing_is_empty():
    empty = np.array([], dtype="float64")
    assert weighted_mean(empty, symbol_rows(empty.astype(object)), np.ones(1)).size == 0
