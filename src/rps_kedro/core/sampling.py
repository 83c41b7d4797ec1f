"""Rows of many symbols, one symbol at a time: the loaders a partitioned dataset gives with
`by_symbol: true` (or a frame's groups), and a seeded uniform sample of a bounded number of their
rows that never holds every symbol's rows at once."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

RowsBySymbol = Mapping[str, Callable[[], pd.DataFrame]]


def rows_by_symbol(rows: pd.DataFrame | RowsBySymbol) -> RowsBySymbol:
    """Each symbol's rows as a loader, in symbol order: a partitioned dataset's loaders as they
    are, or a frame's groups (its rows' order kept within each symbol)."""
    if not isinstance(rows, pd.DataFrame):
        return rows
    return {
        str(symbol): (lambda part=part: part)
        for symbol, part in rows.groupby("symbol", sort=True, observed=True)
    }


class UniformRowSample:
    """A seeded uniform sample of at most `size` of the rows offered, frame after frame, in the
    order they were offered (`size` None: every row).

    Bottom-k sampling: each offered row draws a random key and the `size` rows with the smallest
    keys are the sample. Rows whose key cannot make it any more are dropped as they come, so
    about twice `size` rows are held at most, whatever the number offered."""

    def __init__(self, size: int | None, seed: int):
        self.size = size
        self.rng = np.random.default_rng(seed)
        self.threshold = np.inf  # a key at or above it is not among the `size` smallest
        self.parts: list[pd.DataFrame] = []
        self.keys: list[np.ndarray] = []
        self.offered = 0

    def offer(self, rows: pd.DataFrame) -> None:
        """Consider these rows for the sample."""
        self.offered += len(rows)
        if self.size is None:
            self.parts.append(rows)
            return
        keys = self.rng.random(len(rows))
        candidate = keys < self.threshold
        self.parts.append(rows[candidate])
        self.keys.append(keys[candidate])
        if sum(map(len, self.keys)) > 2 * self.size:
            self._keep_smallest()

    def _keep_smallest(self) -> None:
        """Keep the `size` rows with the smallest keys, in offered order; raise the bar to them."""
        keys = np.concatenate(self.keys)
        kept = np.sort(np.argpartition(keys, self.size - 1)[: self.size])
        self.threshold = keys[kept].max()
        self.parts = [pd.concat(self.parts).iloc[kept]]
        self.keys = [keys[kept]]

    def rows(self) -> pd.DataFrame:
        """The sample, in the order its rows were offered, with a fresh index."""
        if self.size is not None and sum(map(len, self.keys)) > self.size:
            self._keep_smallest()
        if not self.parts:
            return pd.DataFrame()
        return pd.concat(self.parts, ignore_index=True)
