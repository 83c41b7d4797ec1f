"""CryptoCompare data/v2/histohour (keyless): pages backwards with `toTs`, errors arrive as HTTP 200.

The v2 envelope is `{"Response": "Success", "Data": {"Data": [bars]}}`; v1's `Data` was the list
of bars itself. Any other shape is refused with a ProviderError naming what was found. The
payload does not name the pair (only `conversionSymbol` per bar), so it cannot be checked.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from rps_kedro.core.bars import empty_bars
from rps_kedro.datasets._http import RetryableResponse, first_misfit, shape_reason
from rps_kedro.datasets.base import HOUR, HttpMarketSourceDataset

PAGE_LIMIT = 2000
RATE_LIMIT_TYPE = 99
BAR_FIELDS = ["time", "open", "high", "low", "close", "volumefrom"]


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
        """Listed bars (zero-padded rows before a listing are dropped) of one page."""
        frame = pd.DataFrame(self._rows(symbol, payload))
        if frame.empty:
            return empty_bars()
        try:
            bars = frame[BAR_FIELDS[1:]].astype("float64")
            timestamps = pd.to_datetime(frame["time"].astype("int64"), unit="s", utc=True)
        except (TypeError, ValueError) as exc:
            raise self.client.error(symbol, f"malformed bar values: {exc}") from None
        bars = bars.rename(columns={"volumefrom": "volume"})
        bars["timestamp"] = timestamps
        bars["symbol"] = symbol
        listed = bars[["open", "high", "low", "close"]].gt(0).all(axis=1)
        return bars.loc[listed]

    def _rows(self, symbol: str, payload: Any) -> list[dict[str, Any]]:
        """The bars of a v2 success envelope, after checking its shape."""
        if not isinstance(payload, dict):
            expected = "a dict with 'Response' and 'Data'"
            raise self.client.error(symbol, shape_reason("the payload", payload, expected))
        if payload.get("Response") != "Success":
            raise self.client.error(symbol, f"rejected: {payload.get('Message', payload)}")
        data = payload.get("Data")
        if not isinstance(data, dict):
            expected = "the v2 dict {'Data': [bars]} (a list is the v1 envelope)"
            raise self.client.error(symbol, shape_reason("'Data'", data, expected))
        rows = data.get("Data", [])
        if not isinstance(rows, list):
            raise self.client.error(symbol, shape_reason("'Data.Data'", rows, "a list of bars"))
        misfit = first_misfit(
            rows, lambda row: isinstance(row, dict) and set(BAR_FIELDS) <= row.keys()
        )
        if misfit is not None:
            expected = f"a dict with {BAR_FIELDS}"
            raise self.client.error(symbol, shape_reason(f"bar {misfit[0]}", misfit[1], expected))
        return rows
