"""Features nodes: bars -> model_input (features, close, targets) and an HTML data profile."""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
from collections.abc import Callable
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd

from rps_kedro.core.bars import KEY_COLUMNS
from rps_kedro.core.features import (
    TARGET_COLUMNS,
    compute_features,
    compute_targets,
    required_lookback,
    sort_bars,
)
from rps_kedro.core.per_symbol import symbol_rows
from rps_kedro.core.progress import tracked
from rps_kedro.core.sampling import RowsBySymbol, UniformRowSample, rows_by_symbol

logger = logging.getLogger(__name__)
PROFILING_DISABLED_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>model_input profile: disabled</title></head>
<body><h1>Data profiling is disabled</h1>
<p>Set <code>data_profile.enabled: true</code> in <code>conf/base/parameters_features.yml</code>,
or run <code>kedro run --params data_profile.enabled=true</code>, to profile model_input.</p>
</body></html>
"""


def drop_warming_up_symbols(bars: pd.DataFrame, min_history_bars: int) -> pd.DataFrame:
    """The bars of the symbols with enough history; the others are still warming up."""
    counts = bars["symbol"].value_counts()
    warming_up = sorted(counts.index[counts < min_history_bars])
    if warming_up:
        logger.info(
            "Skipping %s: fewer than %d bars (warming up)", ", ".join(warming_up), min_history_bars
        )
    return bars.loc[~bars["symbol"].isin(warming_up)]


def build_model_input(bars: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """Features, close and targets per (symbol, timestamp), for bars with full lookback and target,
    of the symbols past their warm-up."""
    bars = sort_bars(drop_warming_up_symbols(bars, params["min_history_bars"]))
    model_input = compute_features(bars, params)
    model_input.insert(len(KEY_COLUMNS), "close", bars["close"].astype("float64"))
    targets = compute_targets(bars)
    model_input[TARGET_COLUMNS] = targets[TARGET_COLUMNS]
    full_lookback = symbol_rows(bars["symbol"].to_numpy()).position >= required_lookback(params) - 1
    has_target = targets[TARGET_COLUMNS].notna().all(axis=1).to_numpy()
    complete = model_input.loc[full_lookback & has_target]
    complete.index = pd.RangeIndex(len(complete))  # reset_index would copy every column again
    return complete


def model_input_by_symbol(
    bars: pd.DataFrame, params: dict[str, Any]
) -> dict[str, Callable[[], pd.DataFrame]]:
    """model_input one symbol at a time (every feature is computed within one symbol's bars):
    the partitioned dataset builds and writes each in turn, so the whole of it is never held in
    memory at once."""
    return {
        str(symbol): functools.partial(build_model_input, rows, params)
        for symbol, rows in bars.groupby("symbol", sort=True, observed=True)
    }


def sample_for_profile(
    model_input: pd.DataFrame | RowsBySymbol, params: dict[str, Any]
) -> pd.DataFrame:
    """Random rows and columns of model_input within the profile's bounds, targets always kept;
    read one symbol at a time, never held whole."""
    parts = rows_by_symbol(model_input)
    rows = UniformRowSample(params["sample_rows"], params["random_seed"])
    for _, load in tracked(list(parts.items()), "profile sample symbols", logger):
        rows.offer(load())
    sample = rows.rows()
    rng = np.random.default_rng(params["random_seed"])
    others = [column for column in sample.columns if column not in TARGET_COLUMNS]
    picked = rng.choice(
        len(others),
        size=min(len(others), params["sample_columns"] - len(TARGET_COLUMNS)),
        replace=False,
    )
    return sample[[others[index] for index in sorted(picked)] + TARGET_COLUMNS]


def profile_model_input(model_input: pd.DataFrame | RowsBySymbol, params: dict[str, Any]) -> str:
    """HTML ydata-profiling report of a bounded sample of model_input, or a page saying it is off."""
    if not params["enabled"]:
        return PROFILING_DISABLED_PAGE
    # Imported here: ydata-profiling is slow to import and only this node needs it.
    from ydata_profiling import ProfileReport  # noqa: PLC0415

    # ydata-profiling reports each run over the network unless told not to (nodes do no I/O),
    # and draws its column-summary progress bar on stderr even with progress_bar=False.
    with (
        mock.patch.dict(os.environ, {"YDATA_PROFILING_NO_ANALYTICS": "true"}),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        report = ProfileReport(
            sample_for_profile(model_input, params),
            title=params["title"],
            minimal=params["minimal"],
            progress_bar=False,
        )
        return report.to_html()
