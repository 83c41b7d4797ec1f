"""Ingestion nodes: pure functions over the market source object and bar frames."""

from __future__ import annotations

import logging

import pandas as pd

from rps_kedro.core.bars import empty_bars, merge_bars
from rps_kedro.core.progress import tracked
from rps_kedro.datasets.base import MarketSourceDataset

logger = logging.getLogger(__name__)


def fetch_new_bars(
    market_source: MarketSourceDataset, history: pd.DataFrame, symbols: list[str]
) -> pd.DataFrame:
    """Fetch each symbol's bars newer than its history (its backfill window when it has none)."""
    last_seen = history.groupby("symbol")["timestamp"].max()
    frames = [
        market_source.fetch(symbol, last_seen.get(symbol))
        for symbol in tracked(symbols, "fetch symbols", logger)
    ]
    fetched = [frame for frame in frames if not frame.empty]
    return pd.concat(fetched, ignore_index=True) if fetched else empty_bars()


def merge_snapshot(history: pd.DataFrame, snapshot: pd.DataFrame) -> pd.DataFrame:
    """Merge the new snapshot into the history, de-duplicated on (symbol, timestamp)."""
    return merge_bars(history, snapshot)
