"""Alpha Vantage TIME_SERIES_INTRADAY (60min) for stocks; values are strings in US/Eastern time."""

from __future__ import annotations

from typing import Any

import pandas as pd

from rps_kedro.bars import empty_bars
from rps_kedro.datasets._http import ProviderError, RetryableResponse
from rps_kedro.datasets.base import HttpMarketSourceDataset

SERIES_KEY = "Time Series (60min)"
FIELDS = {"1. open": "open", "2. high": "high", "3. low": "low", "4. close": "close"}
VOLUME_FIELD = "5. volume"
TRAILING_WINDOW = pd.Timedelta(days=25)


def check_alpha_vantage_payload(payload: Any) -> None:
    """Recognise Alpha Vantage's HTTP-200 refusals: rate limits (Note/Information) and errors."""
    if not isinstance(payload, dict):
        return
    for key in ("Note", "Information"):
        if key in payload:
            raise RetryableResponse(f"rate limited ({key}: {payload[key]})", rate_limited=True)


class AlphaVantageDataset(HttpMarketSourceDataset):
    """Hourly stock bars; `month=YYYY-MM` backfills history, the trailing call serves updates."""

    provider = "alpha_vantage"
    default_base_url = "https://www.alphavantage.co"
    api_key_env = "ALPHAVANTAGE_API_KEY"

    def _fetch_range(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        frames = [self._request(symbol, month) for month in self._months(start, end)]
        return pd.concat(frames, ignore_index=True) if frames else empty_bars()

    def _months(self, start: pd.Timestamp, end: pd.Timestamp) -> list[str | None]:
        """One trailing call when `start` is recent, else one call per calendar month."""
        if start >= self.clock() - TRAILING_WINDOW:
            return [None]
        eastern = [t.tz_convert("US/Eastern").tz_localize(None) for t in (start, end)]
        months = pd.period_range(eastern[0].to_period("M"), eastern[1].to_period("M"), freq="M")
        return [str(month) for month in months]

    def _request(self, symbol: str, month: str | None) -> pd.DataFrame:
        params = {
            "function": "TIME_SERIES_INTRADAY",
            "symbol": symbol,
            "interval": "60min",
            "outputsize": "full",
            "extended_hours": "false",
            "apikey": self._api_key,
        }
        if month is not None:
            params["month"] = month
        payload = self.client.get_json("/query", params, symbol, check_alpha_vantage_payload)
        return self._parse(symbol, payload)

    def _parse(self, symbol: str, payload: Any) -> pd.DataFrame:
        if not isinstance(payload, dict):
            raise ProviderError(self.provider, symbol, f"unexpected payload {str(payload)[:100]}")
        if "Error Message" in payload:
            raise ProviderError(self.provider, symbol, f"rejected: {payload['Error Message']}")
        if SERIES_KEY not in payload:
            raise ProviderError(
                self.provider, symbol, f"no '{SERIES_KEY}' in response (keys: {sorted(payload)})"
            )
        series = payload[SERIES_KEY]
        if not series:
            return empty_bars()
        frame = pd.DataFrame.from_dict(series, orient="index")
        try:
            values = frame[[*FIELDS, VOLUME_FIELD]].astype("float64")
        except (KeyError, ValueError) as exc:
            raise ProviderError(self.provider, symbol, f"malformed bar values: {exc}") from None
        timezone = payload.get("Meta Data", {}).get("6. Time Zone", "US/Eastern")
        local = pd.to_datetime(frame.index).tz_localize(timezone, ambiguous="NaT")
        bars = values.rename(columns={**FIELDS, VOLUME_FIELD: "volume"})
        bars["timestamp"] = local.tz_convert("UTC").floor("h")
        bars["symbol"] = symbol
        return bars.dropna(subset=["timestamp"]).drop_duplicates("timestamp", keep="last")
