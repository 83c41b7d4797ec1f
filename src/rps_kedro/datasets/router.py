"""One market source made of two: crypto pairs to one provider, stocks to another."""

from __future__ import annotations

from typing import Any

import pandas as pd
from kedro.io.core import parse_dataset_definition

from rps_kedro.core.market_calendar import MarketCalendar
from rps_kedro.datasets.base import MarketSourceDataset


def _build_source(config: dict[str, Any]) -> MarketSourceDataset:
    """Instantiate a source dataset from its catalog-style definition (credentials resolved)."""
    class_obj, kwargs = parse_dataset_definition(dict(config))
    return class_obj(**kwargs)


class MarketRouterDataset(MarketSourceDataset):
    """Routes `fetch` by symbol kind; each side is a dataset definition like a catalog entry.

    Kedro resolves a nested `credentials: <key>` inside each side against credentials.yml.
    """

    provider = "router"

    def __init__(
        self,
        stocks: dict[str, Any],
        crypto: dict[str, Any],
        calendar: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ):
        super().__init__(metadata=metadata)
        self.calendar = MarketCalendar.from_params(calendar or {})
        self.sources = {"stocks": _build_source(stocks), "crypto": _build_source(crypto)}

    def source_for(self, symbol: str) -> MarketSourceDataset:
        """The provider that serves this symbol."""
        return self.sources["crypto" if self.calendar.is_crypto(symbol) else "stocks"]

    def fetch(self, symbol: str, since: pd.Timestamp | None = None) -> pd.DataFrame:
        """Delegate to the provider of this symbol's kind."""
        return self.source_for(symbol).fetch(symbol, since)

    def _fetch_range(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        return self.source_for(symbol)._fetch_range(symbol, start, end)

    def _describe(self) -> dict[str, Any]:
        return {kind: source.provider for kind, source in self.sources.items()}
