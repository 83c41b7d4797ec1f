"""The drift reference: per-feature bounds and quantiles of the training window, stored with the
model; a served bar's feature outside its bounds counts as out of range."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def drift_reference(
    window: pd.DataFrame, columns: list[str], quantiles: list[float], bounds: list[float]
) -> dict[str, Any]:
    """Bounds (two quantiles), quantiles, mean and std of each feature over the window's rows."""
    lower, upper = bounds
    table = window[columns].quantile(sorted({*quantiles, lower, upper}))
    return {
        "window": {
            "start": str(window["timestamp"].min()),
            "end": str(window["timestamp"].max()),
            "rows": len(window),
        },
        "bounds_quantiles": [lower, upper],
        "features": {
            column: {
                "lower": float(table.loc[lower, column]),
                "upper": float(table.loc[upper, column]),
                "mean": float(window[column].mean()),
                "std": float(window[column].std()),
                "quantiles": {str(level): float(table.loc[level, column]) for level in quantiles},
            }
            for column in columns
        },
    }


def reference_bounds(reference: dict[str, Any], names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bound of each named feature, in that order."""
    features = reference["features"]
    return (
        np.array([features[name]["lower"] for name in names]),
        np.array([features[name]["upper"] for name in names]),
    )


def out_of_range(values: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Mask of the feature values (rows x features) outside their bounds."""
    return (values < lower) | (values > upper)
