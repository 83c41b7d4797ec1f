"""Features nodes: model_input's drop rules and columns, the profile's sample and its off switch."""

import numpy as np
import pandas as pd

from rps_kedro.core.bars import KEY_COLUMNS
from rps_kedro.core.features import (
    TARGET_COLUMNS,
    compute_features,
    compute_targets,
    feature_columns,
    required_lookback,
)
from rps_kedro.pipelines.features.nodes import (
    build_model_input,
    model_input_by_symbol,
    profile_model_input,
    sample_for_profile,
)


def test_model_input_has_keys_close_features_and_targets_all_float64(
    feature_params, simulated_bars
):
    model_input = build_model_input(simulated_bars, feature_params)
    expected = KEY_COLUMNS + ["close"] + feature_columns(feature_params) + TARGET_COLUMNS
    assert list(model_input.columns) == expected
    assert (model_input.drop(columns=KEY_COLUMNS).dtypes == "float64").all()
    assert not model_input.isna().any().any()
    assert model_input.index.equals(pd.RangeIndex(len(model_input)))
    assert model_input[KEY_COLUMNS].equals(
        model_input[KEY_COLUMNS].sort_values(KEY_COLUMNS, ignore_index=True)
    )
    assert not model_input.duplicated(KEY_COLUMNS).any()


def test_model_input_drops_bars_without_full_lookback_or_target(feature_params, simulated_bars):
    model_input = build_model_input(simulated_bars, feature_params)
    lookback = required_lookback(feature_params)
    for symbol, bars in simulated_bars.groupby("symbol"):
        kept = model_input.loc[model_input["symbol"] == symbol, "timestamp"].reset_index(drop=True)
        expected = bars["timestamp"].iloc[lookback - 1 : -1].reset_index(drop=True)
        pd.testing.assert_series_equal(kept, expected, check_names=False)


def test_model_input_rows_are_the_features_close_and_targets_of_their_bars(
    feature_params, simulated_bars
):
    model_input = build_model_input(simulated_bars.iloc[::-1], feature_params)
    keys = pd.MultiIndex.from_frame(model_input[KEY_COLUMNS])
    features = compute_features(simulated_bars, feature_params).set_index(KEY_COLUMNS)
    targets = compute_targets(simulated_bars).set_index(KEY_COLUMNS)
    bars = simulated_bars.set_index(KEY_COLUMNS)
    columns = feature_columns(feature_params)
    np.testing.assert_array_equal(model_input[columns], features.loc[keys, columns])
    np.testing.assert_array_equal(model_input[TARGET_COLUMNS], targets.loc[keys, TARGET_COLUMNS])
    np.testing.assert_array_equal(model_input["close"], bars.loc[keys, "close"])


def test_model_input_by_symbol_is_the_whole_build_one_symbol_at_a_time(
    feature_params, simulated_bars
):
    whole = build_model_input(simulated_bars, feature_params)
    parts = model_input_by_symbol(simulated_bars, feature_params)
    assert sorted(parts) == sorted(simulated_bars["symbol"].unique())
    rebuilt = pd.concat([build() for build in parts.values()], ignore_index=True)
    keys = ["symbol", "timestamp"]
    pd.testing.assert_frame_equal(
        rebuilt.sort_values(keys, ignore_index=True), whole.sort_values(keys, ignore_index=True)
    )


def test_profile_sample_is_bounded_and_keeps_the_targets(
    feature_params, profile_params, simulated_bars
):
    model_input = build_model_input(simulated_bars, feature_params)
    sample = sample_for_profile(model_input, {**profile_params, "sample_rows": 50})
    assert sample.shape == (50, profile_params["sample_columns"])
    assert set(TARGET_COLUMNS) <= set(sample.columns)
    assert sample.equals(sample_for_profile(model_input, {**profile_params, "sample_rows": 50}))
    small = sample_for_profile(model_input.head(10), {**profile_params, "sample_columns": 1000})
    assert small.shape == model_input.head(10).shape


def test_disabled_profile_is_a_page_that_says_how_to_enable_it(profile_params):
    page = profile_model_input(pd.DataFrame(), {**profile_params, "enabled": False})
    assert "disabled" in page
    assert "data_profile.enabled" in page
