"""Market sources as Kedro datasets: loading one yields the source itself, ready to fetch bars."""

from __future__ import annotations

import os
from abc import abstractmethod
from collections.abc import Callable
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError

from rps_kedro.core.bars import conform_bars, empty_bars
from rps_kedro.datasets._http import JsonHttpClient, MissingCredentialsError, RetryPolicy

HOUR = pd.Timedelta(hours=1)


def utc_now() -> pd.Timestamp:
    """The current time in UTC."""
    return pd.Timestamp.now(tz="UTC")


class MarketSourceDataset(AbstractDataset[None, "MarketSourceDataset"]):
    """A read-only dataset whose load returns a source with `fetch(symbol, since)`."""

    provider = "market"

    def __init__(
        self,
        backfill_hours: int = 24 * 60,
        clock: Callable[[], pd.Timestamp] = utc_now,
        metadata: dict[str, Any] | None = None,
    ):
        self.backfill_hours = backfill_hours
        self.clock = clock
        self.metadata = metadata

    def load(self) -> MarketSourceDataset:
        """Return the source itself; nodes call `fetch` on it."""
        return self

    def save(self, data: None) -> None:
        """Market sources are read-only."""
        raise DatasetError(f"{type(self).__name__} is read-only")

    def _describe(self) -> dict[str, Any]:
        return {"provider": self.provider, "backfill_hours": self.backfill_hours}

    def last_complete_bar(self) -> pd.Timestamp:
        """Start of the newest hour that has fully elapsed."""
        return self.clock().floor("h") - HOUR

    def window_start(self, since: pd.Timestamp | None) -> pd.Timestamp:
        """First bar start to fetch: just after `since`, or the backfill window's start."""
        if since is not None and not pd.isna(since):
            return pd.Timestamp(since).tz_convert("UTC") + HOUR
        return self.last_complete_bar() - (self.backfill_hours - 1) * HOUR

    def fetch(self, symbol: str, since: pd.Timestamp | None = None) -> pd.DataFrame:
        """Complete bars of `symbol` strictly after `since` (or the backfill window), as the contract."""
        start, end = self.window_start(since), self.last_complete_bar()
        if start > end:
            return empty_bars()
        bars = self._fetch_range(symbol, start, end)
        if bars.empty:
            return empty_bars()
        bars = conform_bars(bars)
        inside = (bars["timestamp"] >= start) & (bars["timestamp"] <= end)
        return bars.loc[inside].reset_index(drop=True)

    @abstractmethod
    def _fetch_range(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Bars of `symbol` covering at least [start, end] (extra rows are trimmed)."""


class HttpMarketSourceDataset(MarketSourceDataset):
    """A provider reached over HTTP; the only network code of the project lives in subclasses.

    `retry.timeout` bounds each socket read; `deadline` (seconds) bounds a whole `fetch`: every
    page, retry and backoff wait of one symbol.
    """

    default_base_url = ""
    api_key_env: str | None = None

    def __init__(
        self,
        base_url: str | None = None,
        retry: dict[str, float] | None = None,
        credentials: dict[str, Any] | None = None,
        deadline: float = 300.0,
        backfill_hours: int = 24 * 60,
        clock: Callable[[], pd.Timestamp] = utc_now,
        metadata: dict[str, Any] | None = None,
    ):
        super().__init__(backfill_hours=backfill_hours, clock=clock, metadata=metadata)
        self._api_key = self._resolve_api_key(credentials or {})
        self.client = JsonHttpClient(
            provider=self.provider,
            base_url=base_url or self.default_base_url,
            retry=RetryPolicy(**(retry or {})),
            deadline=deadline,
            secret=self._api_key,
        )

    def fetch(self, symbol: str, since: pd.Timestamp | None = None) -> pd.DataFrame:
        """As `MarketSourceDataset.fetch`, every request of it under one overall deadline."""
        with self.client.deadline_scope():
            return super().fetch(symbol, since)

    def _resolve_api_key(self, credentials: dict[str, Any]) -> str | None:
        """The API key from credentials.yml, else the environment; fail now if one is required."""
        if self.api_key_env is None:
            return None
        key = credentials.get("api_key") or os.environ.get(self.api_key_env)
        if not key:
            raise MissingCredentialsError(
                self.provider,
                "*",
                f"no API key: set the environment variable {self.api_key_env} or "
                f"'{self.provider}: {{api_key: ...}}' in conf/local/credentials.yml",
            )
        return key

    def _describe(self) -> dict[str, Any]:
        return {
            **super()._describe(),
            "base_url": self.client.base_url,
            "deadline": self.client.deadline,
        }
