"""CryptoCompare data/v2/histohour (keyless): pages backwards with `toTs`, errors arrive as HTTP 200."""

from __future__ import annotations

from typing import Any

import pandas as pd

from rps_kedro.bars import empty_bars
from rps_kedro.datasets._http import ProviderError, RetryableResponse
from rps_kedro.datasets.base import HOUR, HttpMarketSourceDataset

PAGE_LIMIT = 2000
RATE_LIMIT_TYPE = 99


def check_cryptocompare_payload(payload: Any) -> None:
    """Recognise `"Response": "Error"` payloads that are rate limits (type 99) and retry them."""
    if not isinstance(payload, dict) or payload.get("Response") != "Error":
        return
    message = str(payload.get("Message", ""))
    if payload.get("Type") == RATE_LIMIT_TYPE or "rate limit" in message.lower():
        raise RetryableResponse(f"rate limited: {message}", rate_limited=True)


class CryptoCompareDataset(HttpMarketSourceDataset):
    """Hourly crypto bars for BASE-QUOTE symbols such as BTC-USD."""

    provider = "cryptocompare"
    default_base_url = "https://min-api.cryptocompare.com"

    def __init__(self, page_limit: int = PAGE_LIMIT, **kwargs: Any):
        super().__init__(**kwargs)
        self.page_limit = min(page_limit, PAGE_LIMIT)

    def _fetch_range(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        base, quote = symbol.split("-", 1)
        pages: list[pd.DataFrame] = []
        to_ts = end
        while to_ts >= start:
            hours_left = int((to_ts - start) / HOUR)
            params = {
                "fsym": base,
                "tsym": quote,
                "limit": min(self.page_limit, max(hours_left, 1)),
                "toTs": int(to_ts.timestamp()),
            }
            page = self._parse(
                symbol,
                self.client.get_json(
                    "/data/v2/histohour", params, symbol, check_cryptocompare_payload
                ),
            )
            if page.empty:
                break
            pages.append(page)
            to_ts = min(page["timestamp"].min(), to_ts) - HOUR
        return pd.concat(pages, ignore_index=True) if pages else empty_bars()

    def _parse(self, symbol: str, payload: Any) -> pd.DataFrame:
        if not isinstance(payload, dict):
            raise ProviderError(self.provider, symbol, f"unexpected payload {str(payload)[:100]}")
        if payload.get("Response") != "Success":
            raise ProviderError(
                self.provider, symbol, f"rejected: {payload.get('Message', payload)}"
            )
        rows = (payload.get("Data") or {}).get("Data") or []
        frame = pd.DataFrame(rows)
        if frame.empty:
            return empty_bars()
        try:
            bars = frame[["open", "high", "low", "close", "volumefrom"]].astype("float64")
            timestamps = pd.to_datetime(frame["time"].astype("int64"), unit="s", utc=True)
        except (KeyError, ValueError, TypeError) as exc:
            raise ProviderError(self.provider, symbol, f"malformed bar values: {exc}") from None
        bars = bars.rename(columns={"volumefrom": "volume"})
        bars["timestamp"] = timestamps
        bars["symbol"] = symbol
        listed = bars[["open", "high", "low", "close"]].gt(0).all(axis=1)
        return bars.loc[listed]
