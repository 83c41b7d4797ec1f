"""Vectorised operations on the columns of a bars frame sorted by (symbol, timestamp).

Each operation runs over the whole column at once, never lets one symbol's rows reach another's,
and gives NaN where it would need a row before the symbol's first (or after its last) row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.indexers import BaseIndexer


@dataclass(frozen=True)
class SymbolRows:
    """Where each row sits in its symbol's run of consecutive rows."""

    first_row: np.ndarray
    position: np.ndarray
    rows_after: np.ndarray


def symbol_rows(symbols: np.ndarray) -> SymbolRows:
    """Locate each row within its symbol's run, for a symbol column sorted by symbol."""
    index = np.arange(len(symbols))
    starts = np.ones(len(symbols), dtype=bool)
    starts[1:] = symbols[1:] != symbols[:-1]
    ends = np.roll(starts, -1)
    first_row = np.maximum.accumulate(np.where(starts, index, 0))
    last_row = np.minimum.accumulate(np.where(ends, index, len(symbols) - 1)[::-1])[::-1]
    return SymbolRows(first_row=first_row, position=index - first_row, rows_after=last_row - index)


def shift(values: np.ndarray, rows: SymbolRows, periods: int) -> np.ndarray:
    """Shift within each symbol like pandas: positive periods look back, negative look ahead."""
    distance = abs(periods)
    kept = max(len(values) - distance, 0)
    shifted = np.full(len(values), np.nan)
    if periods >= 0:
        shifted[distance:] = values[:kept]
        shifted[rows.position < distance] = np.nan
    else:
        shifted[:kept] = values[distance:]
        shifted[rows.rows_after < distance] = np.nan
    return shifted


class _TrailingSymbolWindow(BaseIndexer):
    """Trailing windows of `window_size` rows cut at the first row of the row's symbol."""

    def get_window_bounds(
        self,
        num_values: int = 0,
        min_periods: int | None = None,
        center: bool | None = None,
        closed: str | None = None,
        step: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Start (inclusive) and end (exclusive) row of each row's window."""
        end = np.arange(1, num_values + 1, dtype=np.int64)
        start = np.maximum(end - self.window_size, self.first_row).astype(np.int64)
        return start, end


def rolling_statistic(
    values: np.ndarray, rows: SymbolRows, window: int, statistic: str
) -> np.ndarray:
    """Pandas rolling `statistic` over `window` rows of the symbol; NaN if short or holding NaN."""
    indexer = _TrailingSymbolWindow(window_size=window, first_row=rows.first_row)
    windows = pd.Series(values).rolling(indexer, min_periods=window)
    return getattr(windows, statistic)().to_numpy()


def exponential_weights(alpha: float, tail_weight: float) -> np.ndarray:
    """Normalised weights, newest first, of an exponential average cut where the rest < tail_weight."""
    with np.errstate(divide="ignore"):  # alpha = 1: log(0) = -inf, only the newest value counts
        length = max(1, int(np.ceil(np.log(tail_weight) / np.log1p(-alpha))))
    weights = (1 - alpha) ** np.arange(length)
    return weights / weights.sum()


def weighted_mean(values: np.ndarray, rows: SymbolRows, weights: np.ndarray) -> np.ndarray:
    """Trailing weighted mean per symbol (weights newest first) over exactly len(weights) rows."""
    if len(values) == 0:
        return np.array(values, dtype="float64")
    averaged = np.convolve(values, weights)[: len(values)]
    averaged[rows.position < len(weights) - 1] = np.nan
    return averaged
