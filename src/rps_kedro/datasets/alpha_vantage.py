"""Alpha Vantage TIME_SERIES_INTRADAY (60min) for stocks; values are strings in US/Eastern time.

Label convention assumed: a 60min label is the bar's END, on the hour, in the payload's
`Time Zone` (US/Eastern). The real 2017 GOOG payload labels a session 10:00...16:00, and its
10:00 bar covers 09:30-10:00. The reader subtracts one hour, so the bars contract gets the bar
START: label 10:00 becomes the 09:00 New York bar (09:30-10:00), label 16:00 the 15:00 bar.

Checks that fail loudly (ProviderError), because a wrong convention would shift every bar:

- a label that is not on the hour, or whose bar would start outside Alpha Vantage's extended
  session (04:00-20:00 US/Eastern, weekdays), e.g. a night or weekend label;
- labels that look like bar STARTS: the session's opening hour (09:00) is labelled, its closing
  hour (16:00) is not, and no other extended-hours label explains the 09:00 one.

Extended-hours bars (labels 05:00-09:00 and 17:00-20:00, e.g. in the trimmed 2022 IBM payload)
fit the convention but are not part of a regular-session stock's bars: they are dropped and their
number is logged at INFO. The payload must also be the requested symbol's (`Meta Data`,
`2. Symbol`) at the 60min interval.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from rps_kedro.core.bars import empty_bars
from rps_kedro.core.market_calendar import MarketCalendar
from rps_kedro.datasets._http import (
    ProviderError,
    RetryableResponse,
    first_misfit,
    shape_reason,
)
from rps_kedro.datasets.base import HOUR, HttpMarketSourceDataset

logger = logging.getLogger(__name__)

PROVIDER = "alpha_vantage"
SERIES_KEY = "Time Series (60min)"
INTERVAL = "60min"
FIELDS = {"1. open": "open", "2. high": "high", "3. low": "low", "4. close": "close"}
VOLUME_FIELD = "5. volume"
LABEL_FORMAT = "%Y-%m-%d %H:%M:%S"
EXTENDED_SESSION_HOURS = (4, 20)  # Alpha Vantage's extended hours, US/Eastern
TRAILING_WINDOW = pd.Timedelta(days=25)


def check_alpha_vantage_payload(payload: Any) -> None:
    """Recognise Alpha Vantage's HTTP-200 refusals: rate limits (Note/Information) and errors."""
    if not isinstance(payload, dict):
        return
    for key in ("Note", "Information"):
        if key in payload:
            raise RetryableResponse(f"rate limited ({key}: {payload[key]})", rate_limited=True)
    if "Error Message" in payload:  # the client names the symbol and removes the API key
        raise ProviderError(PROVIDER, "*", f"rejected: {payload['Error Message']}")


def meta_fields(meta: dict[str, Any]) -> dict[str, Any]:
    """`Meta Data` keyed without the numbering, which differs between formats (5./6. Time Zone)."""
    return {str(key).split(". ", 1)[-1]: value for key, value in meta.items()}


class AlphaVantageDataset(HttpMarketSourceDataset):
    """Hourly stock bars; `month=YYYY-MM` backfills history, the trailing call serves updates."""

    provider = PROVIDER
    default_base_url = "https://www.alphavantage.co"
    api_key_env = "ALPHAVANTAGE_API_KEY"

    def __init__(self, calendar: dict[str, Any] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.calendar = MarketCalendar.from_params(calendar or {})

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
            "interval": INTERVAL,
            "outputsize": "full",
            "extended_hours": "false",
            "apikey": self._api_key,
        }
        if month is not None:
            params["month"] = month
        payload = self.client.get_json("/query", params, symbol, check_alpha_vantage_payload)
        return self._parse(symbol, payload)

    def _parse(self, symbol: str, payload: Any) -> pd.DataFrame:
        """Regular-session bars of `symbol`, labelled by their start, from one payload."""
        series = self._series(symbol, payload)
        time_zone = self._checked_meta(symbol, payload)
        if not series:
            return empty_bars()
        bars = self._values(symbol, series)
        bars["timestamp"] = self._bar_starts(symbol, list(series), time_zone).tz_convert("UTC")
        bars["symbol"] = symbol
        return self._regular_session(symbol, bars)

    def _series(self, symbol: str, payload: Any) -> dict[str, Any]:
        """The payload's time series, after checking the payload's shape."""
        if not isinstance(payload, dict) or SERIES_KEY not in payload:
            expected = f"a dict with '{SERIES_KEY}' and 'Meta Data'"
            raise self.client.error(symbol, shape_reason("the payload", payload, expected))
        series = payload[SERIES_KEY]
        if not isinstance(series, dict):
            expected = "a dict of bars keyed by time"
            raise self.client.error(symbol, shape_reason(f"'{SERIES_KEY}'", series, expected))
        return series

    def _checked_meta(self, symbol: str, payload: dict[str, Any]) -> str:
        """The payload's time zone, after checking it is `symbol`'s 60min series."""
        meta = payload.get("Meta Data")
        if not isinstance(meta, dict):
            expected = "a dict with the symbol and time zone"
            raise self.client.error(symbol, shape_reason("'Meta Data'", meta, expected))
        fields = meta_fields(meta)
        reported = fields.get("Symbol")
        if not isinstance(reported, str) or reported.casefold() != symbol.casefold():
            raise self.client.error(symbol, f"payload is for symbol {reported!r}, not {symbol!r}")
        if fields.get("Interval", INTERVAL) != INTERVAL:
            raise self.client.error(
                symbol, f"payload interval is {fields['Interval']!r}, not {INTERVAL!r}"
            )
        return self._time_zone(symbol, fields.get("Time Zone"))

    def _time_zone(self, symbol: str, name: Any) -> str:
        """The `Time Zone` of `Meta Data`, checked to be a known zone."""
        try:
            pd.Timestamp("2000-01-01").tz_localize(name)
        except (KeyError, TypeError, ValueError):
            raise self.client.error(
                symbol, f"unknown 'Time Zone' {name!r} in 'Meta Data'"
            ) from None
        return name

    def _values(self, symbol: str, series: dict[str, Any]) -> pd.DataFrame:
        """OHLCV as float64, one row per label in payload order."""
        misfit = first_misfit(series.values(), lambda bar: isinstance(bar, dict))
        if misfit is not None:
            label = list(series)[misfit[0]]
            expected = f"a dict of {[*FIELDS, VOLUME_FIELD]}"
            raise self.client.error(symbol, shape_reason(f"bar {label!r}", misfit[1], expected))
        frame = pd.DataFrame.from_dict(series, orient="index")
        try:
            values = frame[[*FIELDS, VOLUME_FIELD]].astype("float64")
        except (KeyError, TypeError, ValueError) as exc:
            raise self.client.error(symbol, f"malformed bar values: {exc}") from None
        return values.rename(columns={**FIELDS, VOLUME_FIELD: "volume"}).reset_index(drop=True)

    def _bar_starts(self, symbol: str, labels: list[str], time_zone: str) -> pd.DatetimeIndex:
        """Bar starts (one hour before each end label), localised to the payload's time zone."""
        try:
            ends = pd.DatetimeIndex(pd.to_datetime(labels, format=LABEL_FORMAT))
        except (TypeError, ValueError):
            raise self.client.error(
                symbol, f"labels are not '{LABEL_FORMAT}' times (first: {labels[0]!r})"
            ) from None
        self._check_label_convention(symbol, ends)
        return (ends - HOUR).tz_localize(time_zone)

    def _check_label_convention(self, symbol: str, ends: pd.DatetimeIndex) -> None:
        """Fail unless every label is a bar end on the hour within the extended session."""
        off_hour = ends[ends != ends.floor("h")]
        if len(off_hour):
            raise self._label_error(symbol, off_hour[0], "is not on the hour")
        starts = ends - HOUR
        first, last = EXTENDED_SESSION_HOURS
        outside = (starts.dayofweek >= 5) | (starts.hour < first) | (starts.hour >= last)
        if outside.any():
            end = ends[outside][0]
            raise self._label_error(
                symbol,
                end,
                f"would put a bar at {end - HOUR:%a %H:%M}-{end:%H:%M}, outside the "
                f"{first:02d}:00-{last:02d}:00 weekday session",
            )
        self._check_not_start_labels(symbol, ends)

    def _check_not_start_labels(self, symbol: str, ends: pd.DatetimeIndex) -> None:
        """Fail on the signature of start labels: the opening hour labelled, the close not."""
        sessions = self.calendar.bars
        opening = sessions.regular_open_hour  # the opening bar's start (09:00 for 09:30)
        closing = opening + int(sessions.session_bars.max())  # a full session's last bar end
        regular = (ends.hour > opening) & (ends.hour <= closing)
        at_open = ends.hour == opening
        if at_open.any() and not (ends.hour == closing).any() and (regular | at_open).all():
            raise self._label_error(
                symbol,
                ends[at_open][0],
                f"and no {closing:02d}:00 label: the labels look like bar starts",
            )

    def _label_error(self, symbol: str, label: pd.Timestamp, problem: str) -> ProviderError:
        """A label that does not fit the bar-end convention of the module docstring."""
        return self.client.error(
            symbol,
            f"label {label:%Y-%m-%d %H:%M} {problem}; expected bar ENDS on the hour "
            "(10:00 = the 09:30-10:00 bar)",
        )

    def _regular_session(self, symbol: str, bars: pd.DataFrame) -> pd.DataFrame:
        """Drop extended-hours bars (logging how many): the contract holds the regular session."""
        regular = self.calendar.in_session(pd.DatetimeIndex(bars["timestamp"]))
        dropped = int((~regular).sum())
        if dropped:
            logger.info(
                "%s %s: dropped %d extended-hours bars of %d",
                self.provider,
                symbol,
                dropped,
                len(bars),
            )
        return bars.loc[regular].reset_index(drop=True)
