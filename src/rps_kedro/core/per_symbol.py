"""Vectorised operations on the columns of bars grouped in runs of one symbol, in time order.

Each operation runs over the whole column at once, never lets one symbol's rows reach another's,
and gives NaN where it would need a row before the symbol's first (or after its last) row.

Window operations (rolling statistics, weighted means) give their value at every row, or only at
the rows `SymbolRows.at` names: training wants every bar of a history, serving only the latest
bar of each symbol. Every row uses a power-of-two block merge (O(rows x log window)); chosen rows
reduce their own trailing window directly (O(chosen rows x window)). Both agree to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np

Moments = tuple[int, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class SymbolRows:
    """Where each row sits in its symbol's run of consecutive rows, and the rows whose window
    values are wanted (`at`; None: every row)."""

    first_row: np.ndarray
    position: np.ndarray
    rows_after: np.ndarray
    at: np.ndarray | None = None

    @property
    def everywhere(self) -> SymbolRows:
        """The same rows, window values wanted at every row."""
        return self if self.at is None else replace(self, at=None)


def symbol_rows(symbols: np.ndarray, at: np.ndarray | None = None) -> SymbolRows:
    """Locate each row within its symbol's run (equal symbols are consecutive)."""
    index = np.arange(len(symbols))
    starts = np.ones(len(symbols), dtype=bool)
    starts[1:] = symbols[1:] != symbols[:-1]
    ends = np.roll(starts, -1)
    first_row = np.maximum.accumulate(np.where(starts, index, 0))
    last_row = np.minimum.accumulate(np.where(ends, index, len(symbols) - 1)[::-1])[::-1]
    return SymbolRows(
        first_row=first_row, position=index - first_row, rows_after=last_row - index, at=at
    )


def pick(values: np.ndarray, rows: SymbolRows) -> np.ndarray:
    """A per-row column at the wanted rows."""
    return values if rows.at is None else values[rows.at]


def _trailing_windows(values: np.ndarray, rows: SymbolRows, length: int) -> np.ndarray:
    """The `length` values up to each wanted row (rows x length, oldest first); a window that
    starts before the symbol's first row holds other rows and must be masked by the caller."""
    index = rows.at[:, None] + np.arange(1 - length, 1)
    return values[np.maximum(index, 0)]


def _short(rows: SymbolRows, length: int) -> np.ndarray:
    """Mask of the wanted rows with fewer than `length` rows of their symbol so far."""
    return pick(rows.position, rows) < length - 1


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


class _Blocks:
    """Power-of-two blocks of one column: level k combines the 2**k rows starting at each row
    where they fit. `moments` blocks hold (count, mean, squared deviations), others a reduction."""

    def __init__(self, values: np.ndarray, kind: str, largest: int):
        self.kind = kind
        level = (1, values, np.zeros(len(values))) if kind == "moments" else values
        self.levels, size = {1: level}, 1
        while size * 2 <= largest:
            length = self._length(level)
            level = self.combine(
                self.slice(level, 0, length - size), self.slice(level, size, length)
            )
            size *= 2
            self.levels[size] = level

    def _length(self, level: Any) -> int:
        return len(level[1]) if self.kind == "moments" else len(level)

    def slice(self, level: Any, start: int, stop: int) -> Any:
        """Rows [start, stop) of a level (empty when stop <= start)."""
        stop = max(stop, start)
        if self.kind == "moments":
            return level[0], level[1][start:stop], level[2][start:stop]
        return level[start:stop]

    def combine(self, older: Any, newer: Any) -> Any:
        """Two adjacent row sets, the older first."""
        if self.kind == "moments":
            return _moments(older, newer)
        return REDUCTIONS[self.kind](older, newer)

    def window(self, window: int, rows: int) -> Any:
        """The combination of the `window` rows ending at each row from the window's last row on."""
        merged = None
        for size, back in _binary_blocks(window):
            start = window - back - size
            part = self.slice(self.levels[size], start, start + rows - window + 1)
            merged = part if merged is None else self.combine(part, merged)
        return merged


BLOCK_KIND = {"sum": "sum", "mean": "sum", "std": "moments", "min": "min", "max": "max"}


def _finish(statistic: str, merged: Any, window: int) -> np.ndarray:
    """A statistic from its merged window blocks."""
    if statistic == "std":
        return np.sqrt(merged[2] / (window - 1))
    return merged / window if statistic == "mean" else merged


def _every_row(
    values: np.ndarray, rows: SymbolRows, windows: list[int], statistics: list[str]
) -> dict[tuple[str, int], np.ndarray]:
    """Rolling statistics at every row, the block levels of each kind built once."""
    count = len(values)
    fitting = [window for window in windows if window <= count]
    kinds = {BLOCK_KIND[statistic] for statistic in statistics}
    largest = max((_binary_blocks(window)[-1][0] for window in fitting), default=1)
    blocks = {kind: _Blocks(values, kind, largest) for kind in kinds}
    results = {}
    for window in windows:
        for statistic in statistics:
            result = np.full(count, np.nan)
            if window in fitting:
                merged = blocks[BLOCK_KIND[statistic]].window(window, count)
                result[window - 1 :] = _finish(statistic, merged, window)
            result[rows.position < window - 1] = np.nan
            results[statistic, window] = result
    return results


REDUCTIONS = {"sum": np.add, "min": np.minimum, "max": np.maximum}


def _window_std(windows: np.ndarray) -> np.ndarray:
    """Sample standard deviation of each window (two passes), exactly 0 for a constant one."""
    length = windows.shape[1]
    deviations = windows - np.add.reduce(windows, axis=1, keepdims=True) / length
    std = np.sqrt(np.add.reduce(deviations**2, axis=1) / (length - 1))
    std[np.minimum.reduce(windows, axis=1) == np.maximum.reduce(windows, axis=1)] = 0.0
    return std


WINDOW_REDUCTIONS = {  # ufunc reductions: numpy's mean/min/max methods without their wrappers
    "sum": lambda windows: np.add.reduce(windows, axis=1),
    "mean": lambda windows: np.add.reduce(windows, axis=1) / windows.shape[1],
    "std": _window_std,
    "min": lambda windows: np.minimum.reduce(windows, axis=1),
    "max": lambda windows: np.maximum.reduce(windows, axis=1),
}


def rolling_statistic(
    values: np.ndarray, rows: SymbolRows, window: int, statistic: str
) -> np.ndarray:
    """Rolling `statistic` (sum, mean, std, min, max) over `window` rows of the symbol, like
    pandas' rolling: NaN if the symbol has fewer rows so far or the window holds a NaN.

    Every row: rows are combined in power-of-two blocks, O(rows x log(window)), each row from its
    own trailing rows only (a row's value depends on no later row and no other symbol); the std
    merges exact block moments, stable for prices far from zero and exactly 0 when constant."""
    return rolling_statistics(values, rows, [window], [statistic])[statistic, window]


def rolling_statistics(
    values: np.ndarray, rows: SymbolRows, windows: list[int], statistics: list[str]
) -> dict[tuple[str, int], np.ndarray]:
    """Several rolling statistics of one column by (statistic, window), as rolling_statistic
    gives them; at chosen rows, each row's longest window is gathered once."""
    if rows.at is None:
        return _every_row(np.asarray(values, dtype="float64"), rows, windows, statistics)
    longest = _trailing_windows(np.asarray(values, dtype="float64"), rows, max(windows))
    results = {}
    for window in windows:
        part, short = longest[:, -window:], _short(rows, window)
        for statistic in statistics:
            result = WINDOW_REDUCTIONS[statistic](part)
            result[short] = np.nan
            results[statistic, window] = result
    return results


@lru_cache(maxsize=32)
def exponential_weights(alpha: float, tail_weight: float) -> np.ndarray:
    """Normalised weights, newest first, of an exponential average cut where the rest < tail_weight."""
    with np.errstate(divide="ignore"):  # alpha = 1: log(0) = -inf, only the newest value counts
        length = max(1, int(np.ceil(np.log(tail_weight) / np.log1p(-alpha))))
    weights = (1 - alpha) ** np.arange(length)
    weights /= weights.sum()
    weights.flags.writeable = False  # shared by every caller (cached)
    return weights


def weighted_mean(values: np.ndarray, rows: SymbolRows, weights: np.ndarray) -> np.ndarray:
    """Trailing weighted mean per symbol (weights newest first) over exactly len(weights) rows."""
    if rows.at is not None:
        averaged = _trailing_windows(values, rows, len(weights)) @ weights[::-1]
        averaged[_short(rows, len(weights))] = np.nan
        return averaged
    if len(values) == 0:
        return np.array(values, dtype="float64")
    averaged = np.convolve(values, weights)[: len(values)]
    averaged[rows.position < len(weights) - 1] = np.nan
    return averaged
