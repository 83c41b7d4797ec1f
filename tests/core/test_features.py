"""Features and targets on real simulated bars and on hand-made ones: values, isolation, lookback."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rps_kedro.core.bars import KEY_COLUMNS, conform_bars, empty_bars
from rps_kedro.core.features import (
    TARGET_COLUMNS,
    compute_features,
    compute_targets,
    feature_columns,
    required_lookback,
    sort_bars,
)
from rps_kedro.datasets import SimulatedMarketDataset
from tests.conftest import SIMULATION_END, SYMBOLS, project_parameters
from tests.core.conftest import hand_bars


def _per_symbol(bars: pd.DataFrame, column: str) -> pd.core.groupby.SeriesGroupBy:
    return bars[column].groupby(bars["symbol"])


def test_feature_columns_name_every_computed_feature_and_not_close(feature_params, simulated_bars):
    columns = feature_columns(feature_params)
    assert len(columns) == len(set(columns)) == 59
    assert list(compute_features(simulated_bars, feature_params).columns) == KEY_COLUMNS + columns
    assert "close" not in columns
    assert not set(TARGET_COLUMNS) & set(columns)


def test_one_float64_row_per_bar_sorted_by_symbol_and_time(feature_params, simulated_bars):
    shuffled = simulated_bars.sample(frac=1, random_state=3)
    features = compute_features(shuffled, feature_params)
    pd.testing.assert_frame_equal(features[KEY_COLUMNS], simulated_bars[KEY_COLUMNS])
    assert (features.drop(columns=KEY_COLUMNS).dtypes == "float64").all()
    pd.testing.assert_frame_equal(features, compute_features(simulated_bars, feature_params))


def test_lagged_log_returns_are_the_symbols_shifted_log_returns(feature_params, simulated_bars):
    features = compute_features(simulated_bars, feature_params)
    returns = np.log(simulated_bars["close"]).groupby(simulated_bars["symbol"]).diff()
    np.testing.assert_array_equal(features["log_return"], returns)
    for lag in feature_params["return_lags"]:
        expected = returns.groupby(simulated_bars["symbol"]).shift(lag)
        np.testing.assert_array_equal(features[f"log_return_lag_{lag}"], expected)


def test_window_statistics_match_pandas_rolling_per_symbol(feature_params, simulated_bars):
    features = compute_features(simulated_bars, feature_params)
    close = _per_symbol(simulated_bars, "close")
    returns = np.log(simulated_bars["close"] / close.shift(1))
    for window in feature_params["rolling_windows"]:
        by_symbol = returns.groupby(simulated_bars["symbol"]).rolling(window)
        expected_std = by_symbol.std().reset_index(level=0, drop=True)
        np.testing.assert_allclose(features[f"return_std_{window}"], expected_std, rtol=1e-7)
        price_max = close.rolling(window).max().reset_index(level=0, drop=True)
        np.testing.assert_array_equal(
            features[f"close_max_ratio_{window}"], price_max / simulated_bars["close"]
        )
        price_mean = close.rolling(window).mean().reset_index(level=0, drop=True)
        np.testing.assert_allclose(
            features[f"close_mean_ratio_{window}"], price_mean / simulated_bars["close"], rtol=1e-9
        )


def test_rising_prices_have_rsi_100_positive_macd_and_fast_above_slow_average(feature_params):
    bars = hand_bars("BTC-USD", list(100 * 1.001 ** np.arange(300)))
    features = compute_features(bars, feature_params).iloc[required_lookback(feature_params) :]
    assert (features["rsi_14"] == 100).all()
    assert (features["macd_line"] > 0).all()
    assert (features["sma_ratio_6_24"] > 1).all()
    assert (features["close_max_ratio_24"] == 1).all(), "the current close is the window's high"


def test_constant_volume_has_zero_zscore_and_bar_ranges_are_known(feature_params):
    bars = hand_bars("ETH-USD", [100.0] * 200)
    last = compute_features(bars, feature_params).iloc[-1]
    assert last["volume_zscore_24"] == 0
    # open = close = 100, high 101, low 99
    assert last["range_ratio"] == pytest.approx(0.02)
    assert last["atr_ratio_14"] == pytest.approx(0.02)
    assert last["garman_klass_volatility"] == pytest.approx(math.log(101 / 99) / math.sqrt(2))
    assert last["garman_klass_volatility_24"] == pytest.approx(last["garman_klass_volatility"])
    assert last["parkinson_volatility"] == pytest.approx(
        math.log(101 / 99) / math.sqrt(4 * math.log(2))
    )
    assert last["rsi_14"] == 50, "no price move at all"


def test_calendar_features_put_hour_and_weekday_on_circles(feature_params):
    # 2025-01-06 is a Monday: bars at 00:00, 06:00 Monday and 00:00 Thursday
    features = compute_features(hand_bars("BTC-USD", [1.0] * 73), feature_params)
    midnight, six, thursday = features.iloc[0], features.iloc[6], features.iloc[72]
    assert (midnight["hour_sin"], midnight["hour_cos"]) == (0.0, 1.0)
    assert six["hour_sin"] == pytest.approx(1.0) and six["hour_cos"] == pytest.approx(
        0.0, abs=1e-15
    )
    assert (midnight["day_of_week_sin"], midnight["day_of_week_cos"]) == (0.0, 1.0)
    assert thursday["day_of_week_sin"] == pytest.approx(math.sin(2 * math.pi * 3 / 7))
    assert thursday["day_of_week_cos"] == pytest.approx(math.cos(2 * math.pi * 3 / 7))


def test_each_symbols_features_do_not_depend_on_other_symbols(feature_params, simulated_bars):
    together = compute_features(simulated_bars, feature_params)
    alone = pd.concat(
        [compute_features(bars, feature_params) for _, bars in simulated_bars.groupby("symbol")],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(together, alone, check_exact=True)


def test_recent_bars_give_the_full_history_features_of_the_last_bar(feature_params, simulated_bars):
    lookback = required_lookback(feature_params)
    columns = feature_columns(feature_params)
    for symbol, bars in simulated_bars.groupby("symbol"):
        full = compute_features(bars, feature_params).iloc[-1][columns].astype("float64")
        recent = compute_features(bars.iloc[-lookback:], feature_params).iloc[-1][columns]
        assert len(bars) > 2 * lookback, symbol
        np.testing.assert_allclose(recent.astype("float64"), full, rtol=1e-7, atol=1e-12)
        short = compute_features(bars.iloc[-lookback + 1 :], feature_params).iloc[-1][columns]
        assert short.isna().any(), "one bar fewer leaves some feature undefined"


def test_required_lookback_is_where_every_feature_becomes_defined(feature_params, simulated_bars):
    lookback = required_lookback(feature_params)
    assert lookback == 169, "the 168-bar return windows need one more close"
    features = compute_features(simulated_bars, feature_params).drop(columns=KEY_COLUMNS)
    position = simulated_bars.groupby("symbol").cumcount()
    assert features[position >= lookback - 1].notna().all().all()
    assert features[position == lookback - 2].isna().any(axis=1).all()


def test_few_or_no_bars_give_undefined_features_without_error(feature_params):
    assert compute_features(empty_bars(), feature_params).empty
    few = compute_features(hand_bars("AAPL", [10.0, 11.0, 12.0]), feature_params)
    assert len(few) == 3
    assert few["log_return_lag_1"].iloc[-1] == pytest.approx(math.log(11 / 10))
    assert few["return_mean_6"].isna().all()


def test_targets_are_the_next_bars_log_return_and_garman_klass_volatility():
    bars = conform_bars(
        pd.concat([hand_bars("BTC-USD", [100.0, 110.0, 99.0]), hand_bars("AAPL", [5.0, 6.0])])
    )
    targets = compute_targets(bars)
    assert list(targets.columns) == KEY_COLUMNS + TARGET_COLUMNS
    np.testing.assert_allclose(
        targets["target_log_return"],
        [math.log(6 / 5), np.nan, math.log(110 / 100), math.log(99 / 110), np.nan],
    )
    # the next bar opens at this close; high and low are 1% beyond open and close
    next_bar_btc = math.sqrt(
        0.5 * math.log(110 * 1.01 / (100 * 0.99)) ** 2
        - (2 * math.log(2) - 1) * math.log(110 / 100) ** 2
    )
    assert targets["target_volatility"].iloc[2] == pytest.approx(next_bar_btc)
    assert targets["target_volatility"].isna().tolist() == [False, True, False, False, True]


@pytest.fixture(scope="module")
def leakage_bars() -> pd.DataFrame:
    """The simulated bars of tests.conftest, built once for the property test."""
    simulator = SimulatedMarketDataset(
        seed=7, origin="2025-01-01", end=SIMULATION_END, backfill_hours=24 * 60
    )
    return conform_bars(pd.concat([simulator.fetch(symbol) for symbol in SYMBOLS]))


def _perturbed(bars: pd.DataFrame, row: int, moves: tuple[float, ...]) -> None:
    """Move one bar's open, close and volume and redraw its wicks, keeping OHLC consistent."""
    open_move, close_move, upper_wick, lower_wick, volume_move = moves
    open_ = bars.at[row, "open"] * math.exp(open_move)
    close = bars.at[row, "close"] * math.exp(close_move)
    bars.loc[row, ["open", "close"]] = open_, close
    bars.at[row, "high"] = max(open_, close) * math.exp(upper_wick)
    bars.at[row, "low"] = min(open_, close) * math.exp(-lower_wick)
    bars.at[row, "volume"] = bars.at[row, "volume"] * math.exp(volume_move)


BAR_MOVES = st.tuples(
    st.floats(-0.2, 0.2),
    st.floats(-0.2, 0.2),
    st.floats(0, 0.1),
    st.floats(0, 0.1),
    st.floats(-3, 3),
)


@settings(max_examples=25, deadline=None)
@given(
    cut=st.floats(0, 0.999),
    changes=st.lists(st.tuples(st.floats(0, 0.999), BAR_MOVES), min_size=1, max_size=3),
)
def test_changing_bars_after_t_never_changes_features_up_to_t(leakage_bars, cut, changes):
    params = project_parameters()["features"]
    timestamps = np.sort(leakage_bars["timestamp"].unique())
    t = timestamps[int(cut * (len(timestamps) - 1))]
    later_rows = np.flatnonzero(leakage_bars["timestamp"] > t)
    changed = leakage_bars.copy()
    for where, moves in changes:
        _perturbed(changed, later_rows[int(where * len(later_rows))], moves)

    up_to_t = (leakage_bars["timestamp"] <= t).to_numpy()
    pd.testing.assert_frame_equal(
        compute_features(changed, params)[up_to_t],
        compute_features(leakage_bars, params)[up_to_t],
        check_exact=True,
    )
    targets_differ = (
        compute_targets(changed)[TARGET_COLUMNS].ne(compute_targets(leakage_bars)[TARGET_COLUMNS])
    ).any(axis=1) & up_to_t
    last_at_or_before_t = leakage_bars[up_to_t].groupby("symbol").tail(1).index
    assert set(np.flatnonzero(targets_differ)) <= set(last_at_or_before_t)


def test_sort_bars_returns_sorted_bars_unchanged(simulated_bars):
    assert sort_bars(simulated_bars) is simulated_bars
    pd.testing.assert_frame_equal(sort_bars(simulated_bars.iloc[::-1]), simulated_bars)
