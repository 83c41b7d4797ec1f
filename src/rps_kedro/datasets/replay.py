"""Replay bars from a parquet file as a market source: vendor dumps, recorded sessions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from rps_kedro.datasets.base import MarketSourceDataset


class ReplayMarketDataset(MarketSourceDataset):
    """Serves the rows of a bars parquet file, newer than `since`, exactly as stored.

    Nothing is cast or repaired: what the file holds is what the quality gate judges.
    """

    provider = "replay"

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None):
        super().__init__(metadata=metadata)
        self.filepath = Path(filepath)

    def fetch(self, symbol: str, since: pd.Timestamp | None = None) -> pd.DataFrame:
        """The file's rows for `symbol` after `since` (all of them when `since` is None)."""
        bars = pd.read_parquet(self.filepath)
        rows = bars[bars["symbol"] == symbol]
        if since is not None and not pd.isna(since):
            rows = rows[pd.to_datetime(rows["timestamp"], utc=True) > since]
        return rows.reset_index(drop=True)

    def _fetch_range(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        return self.fetch(symbol, start - pd.Timedelta(hours=1))

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self.filepath)}
