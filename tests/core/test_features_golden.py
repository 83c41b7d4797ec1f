"""Golden features: the values of the pandas implementation (commit edcaf2d) on 300 bars of four
simulated symbols, one of them with a flat, volume-less stretch, kept to 1e-12."""

from pathlib import Path

import numpy as np
import pandas as pd

from rps_kedro.core.features import BarArrays, compute_features, feature_arrays
from tests.conftest import project_parameters

DATA = Path(__file__).parent / "data"
TOLERANCE = 1e-12


def test_features_equal_the_golden_values_of_the_pandas_implementation():
    bars = pd.read_parquet(DATA / "golden_bars.parquet")
    golden = pd.read_parquet(DATA / "golden_features.parquet")
    features = compute_features(bars, project_parameters()["features"])
    assert list(features.columns[2:]) == list(golden.columns)
    values, expected = features[golden.columns].to_numpy(), golden.to_numpy()
    np.testing.assert_array_equal(np.isnan(values), np.isnan(expected))
    np.testing.assert_allclose(values, expected, rtol=TOLERANCE, atol=TOLERANCE)


def test_features_at_chosen_rows_equal_the_golden_values():
    """The serving mode (each chosen bar from its own trailing window) keeps the same values."""
    bars = pd.read_parquet(DATA / "golden_bars.parquet")
    golden = pd.read_parquet(DATA / "golden_features.parquet")
    every_row = np.arange(len(bars))
    columns = feature_arrays(
        BarArrays.from_frame(bars), project_parameters()["features"], every_row
    )
    values = np.column_stack([columns[name] for name in golden.columns])
    expected = golden.to_numpy()
    np.testing.assert_array_equal(np.isnan(values), np.isnan(expected))
    np.testing.assert_allclose(values, expected, rtol=TOLERANCE, atol=TOLERANCE)
