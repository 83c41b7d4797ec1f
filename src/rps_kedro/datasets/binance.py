"""Binance /api/v3/klines (keyless, interval 1h): pages forwards with `startTime`, 429/418 back off.

A kline is a list `[openTime, "open", "high", "low", "close", "volume", closeTime, ...]`; any other
shape is refused with a ProviderError naming what was found. Klines do not name the symbol, so
the payload cannot be checked against the requested one.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from rps_kedro.core.bars import empty_bars
from rps_kedro.datasets._http import ProviderError, first_misfit, shape_reason
from rps_kedro.datasets.base import HOUR, HttpMarketSourceDataset

PAGE_LIMIT = 1000
KLINE_COLUMNS = ["open_time", "open", "high", "low", "close", "volume"]


def check_binance_payload(payload: Any) -> None:
    """Binance reports errors as `{"code": ..., "msg": ...}`; none of them is worth retrying."""
    if isinstance(payload, dict) and "code" in payload:  # the client names the symbol
        raise ProviderError("binance", "*", f"error {payload['code']}: {payload.get('msg')}")


class BinanceDataset(HttpMarketSourceDataset):
    """Hourly crypto bars; symbol BTC-USDT is requested as BTCUSDT."""

    provider = "binance"
    default_base_url = "https://data-api.binance.vision"

    def __init__(self, page_limit: int = PAGE_LIMIT, **kwargs: Any):
        super().__init__(**kwargs)
        self.page_limit = min(page_limit, PAGE_LIMIT)

    def _fetch_range(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        pages: list[pd.DataFrame] = []
        cursor = start
        while cursor <= end:
            params = {
                "symbol": symbol.replace("-", ""),
                "interval": "1h",
                "startTime": int(cursor.timestamp() * 1000),
                "endTime": int(end.timestamp() * 1000),
                "limit": self.page_limit,
            }
            payload = self.client.get_json("/api/v3/klines", params, symbol, check_binance_payload)
            page = self._parse(symbol, payload)
            if page.empty:
                break
            pages.append(page)
            cursor = max(page["timestamp"].max(), cursor) + HOUR
            if len(page) < self.page_limit:
                break
        return pd.concat(pages, ignore_index=True) if pages else empty_bars()

    def _parse(self, symbol: str, payload: Any) -> pd.DataFrame:
        """Bars of one page of klines, after checking its shape."""
        if not isinstance(payload, list):
            raise self.client.error(
                symbol, shape_reason("the payload", payload, "a list of klines")
            )
        misfit = first_misfit(payload, lambda row: isinstance(row, list) and len(row) >= 6)
        if misfit is not None:
            expected = f"a list starting {KLINE_COLUMNS}"
            raise self.client.error(symbol, shape_reason(f"kline {misfit[0]}", misfit[1], expected))
        if not payload:
            return empty_bars()
        try:
            frame = pd.DataFrame([row[:6] for row in payload], columns=KLINE_COLUMNS)
            bars = frame[KLINE_COLUMNS[1:]].astype("float64")
            bars["timestamp"] = pd.to_datetime(
                frame["open_time"].astype("int64"), unit="ms", utc=True
            )
        except (ValueError, TypeError) as exc:
            raise self.client.error(symbol, f"malformed kline values: {exc}") from None
        bars["symbol"] = symbol
        return bars
