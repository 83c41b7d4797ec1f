"""Vectorised operations on the columns of a bars frame sorted by (symbol, timestamp).

Each operation runs over the whole column at once, never lets one symbol's rows reach another's,
and gives NaN where it would need a row before the symbol's first (or after its last) row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Moments = tuple[int, np.ndarray, np.ndarray]


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


def _lagged(values: np.ndarray, periods: int) -> np.ndarray:
    """The column `periods` rows back, NaN before the first row (symbols are not respected)."""
    lagged = np.full(len(values), np.nan)
    if periods < len(values):
        lagged[periods:] = values[: len(values) - periods]
    return lagged


def _binary_blocks(window: int) -> list[tuple[int, int]]:
    """The power-of-two blocks (size, rows back from the window's end) that tile a window."""
    blocks, covered, size = [], 0, 1
    while window:
        if window & 1:
            blocks.append((size, covered))
            covered += size
        window >>= 1
        size *= 2
    return blocks


def _doubled(values: np.ndarray, combine: Callable, sizes: list[int]) -> dict[int, np.ndarray]:
    """`combine` over the trailing block of each size (a power of two) ending at each row."""
    tables, block, size = {}, values, 1
    while size <= max(sizes):
        tables[size] = block
        block = combine(block, _lagged(block, size))
        size *= 2
    return {size: tables[size] for size in sizes}


def _rolling_reduce(values: np.ndarray, window: int, combine: Callable) -> np.ndarray:
    """An associative reduction (sum, min, max) over the `window` rows ending at each row."""
    blocks = _binary_blocks(window)
    tables = _doubled(values, combine, [size for size, _ in blocks])
    result = None
    for size, back in blocks:
        part = _lagged(tables[size], back) if back else tables[size]
        result = part if result is None else combine(result, part)
    return result


def _moments(left: Moments, right: Moments) -> Moments:
    """Count, mean and sum of squared deviations of two row sets together (Chan et al.)."""
    count_left, mean_left, squares_left = left
    count_right, mean_right, squares_right = right
    count = count_left + count_right
    delta = mean_right - mean_left
    return (
        count,
        mean_left + delta * (count_right / count),
        squares_left + squares_right + delta**2 * (count_left * count_right / count),
    )


def _rolling_std(values: np.ndarray, window: int) -> np.ndarray:
    """Sample standard deviation over the `window` rows ending at each row, by pairwise merges
    of exact block moments: stable for prices far from zero, exactly 0 for a constant window."""
    blocks = _binary_blocks(window)
    tables = {1: (1, values, np.zeros(len(values)))}
    size = 1
    while size < blocks[-1][0]:
        count, mean, squares = tables[size]
        older = (count, _lagged(mean, size), _lagged(squares, size))
        tables[2 * size] = _moments(older, tables[size])
        size *= 2
    merged = None
    for size, back in blocks:
        count, mean, squares = tables[size]
        part = (count, _lagged(mean, back), _lagged(squares, back)) if back else tables[size]
        merged = part if merged is None else _moments(part, merged)
    return np.sqrt(merged[2] / (window - 1))


REDUCTIONS = {"sum": np.add, "min": np.minimum, "max": np.maximum}


def rolling_statistic(
    values: np.ndarray, rows: SymbolRows, window: int, statistic: str
) -> np.ndarray:
    """Rolling `statistic` (sum, mean, std, min, max) over `window` rows of the symbol, like
    pandas' rolling: NaN if the symbol has fewer rows so far or the window holds a NaN.

    Rows are combined in power-of-two blocks, O(rows x log(window)), each row from its own
    trailing rows only: a row's value depends on no later row and no other symbol."""
    values = np.asarray(values, dtype="float64")
    if statistic == "std":
        result = _rolling_std(values, window)
    elif statistic == "mean":
        result = _rolling_reduce(values, window, np.add) / window
    else:
        result = _rolling_reduce(values, window, REDUCTIONS[statistic])
    result[rows.position < window - 1] = np.nan
    return result


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
