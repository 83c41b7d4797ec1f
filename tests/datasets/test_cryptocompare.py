"""CryptoCompareDataset against a replayed CryptoCompare data/v2/histohour."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest
from werkzeug import Request, Response

from rps_kedro.core.bars import VALUE_COLUMNS
from rps_kedro.datasets import CryptoCompareDataset, ProviderError, RateLimitError
from tests.datasets.conftest import (
    assert_bars_contract,
    assert_deadline_exceeded,
    assert_refused,
    assert_timeout_retried,
    queries,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "providers"
RETRY = {"max_attempts": 3, "base_delay": 0.01, "max_delay": 0.05, "timeout": 0.5}
NOW = pd.Timestamp("2024-04-01 00:30", tz="UTC")  # last complete bar: 2024-03-31 23:00 UTC
PATH = "/data/v2/histohour"


def payload(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def epoch(text: str) -> str:
    return str(int(utc(text).timestamp()))


def make_dataset(server, **kwargs) -> CryptoCompareDataset:
    options = {
        "base_url": server.url_for("/"),
        "retry": RETRY,
        "clock": lambda: NOW,
        "backfill_hours": 6,
        **kwargs,
    }
    return CryptoCompareDataset(**options)


def test_pages_backwards_with_to_ts(server):
    page1, page2 = (
        payload("cryptocompare_histohour_page1.json"),
        payload("cryptocompare_histohour_page2.json"),
    )
    by_to_ts = {epoch("2024-03-31 23:00"): page1, epoch("2024-03-31 17:00"): page2}

    def histohour(request: Request) -> Response:
        return Response(json.dumps(by_to_ts[request.args["toTs"]]), mimetype="application/json")

    server.expect_request(PATH).respond_with_handler(histohour)

    # Window 14:00..23:00 (10 bars) with pages of limit 5 => 6 rows, then the 4 older rows.
    bars = make_dataset(server, backfill_hours=10, page_limit=5).fetch("BTC-USD")

    assert_bars_contract(bars)
    assert bars["timestamp"].tolist() == list(
        pd.date_range(utc("2024-03-31 14:00"), utc("2024-03-31 23:00"), freq="h")
    )
    assert (bars["symbol"] == "BTC-USD").all()
    first_row = page2["Data"]["Data"][0]
    assert bars.iloc[0][VALUE_COLUMNS].tolist() == [
        first_row["open"],
        first_row["high"],
        first_row["low"],
        first_row["close"],
        first_row["volumefrom"],
    ]
    assert queries(server) == [
        {"fsym": "BTC", "tsym": "USD", "limit": "5", "toTs": epoch("2024-03-31 23:00")},
        {"fsym": "BTC", "tsym": "USD", "limit": "3", "toTs": epoch("2024-03-31 17:00")},
    ]


def test_zero_padded_rows_before_listing_are_dropped(server):
    server.expect_request(
        PATH,
        query_string={
            "fsym": "NEW",
            "tsym": "USD",
            "limit": "5",
            "toTs": epoch("2024-03-31 23:00"),
        },
    ).respond_with_json(payload("cryptocompare_histohour_listing.json"))
    server.expect_request(
        PATH,
        query_string={
            "fsym": "NEW",
            "tsym": "USD",
            "limit": "1",
            "toTs": epoch("2024-03-31 19:00"),
        },
    ).respond_with_json(payload("cryptocompare_histohour_prelisting.json"))

    bars = make_dataset(server).fetch("NEW-USD")

    assert_bars_contract(bars)
    assert bars["timestamp"].tolist() == list(
        pd.date_range(utc("2024-03-31 20:00"), utc("2024-03-31 23:00"), freq="h")
    )
    assert (bars[["open", "high", "low", "close"]] > 0).all().all()
    assert len(server.log) == 2  # stops once a page holds nothing but padding


def test_rate_limit_payload_is_retried_until_it_clears(server):
    server.expect_oneshot_request(PATH).respond_with_json(payload("cryptocompare_rate_limit.json"))
    server.expect_request(PATH).respond_with_json(payload("cryptocompare_histohour_page1.json"))

    bars = make_dataset(server).fetch("BTC-USD")

    assert len(bars) == 6
    assert len(server.log) == 2
    assert queries(server)[0] == queries(server)[1]  # the same page asked again


def test_persistent_rate_limit_payload_raises_rate_limit_error(server):
    server.expect_request(PATH).respond_with_json(payload("cryptocompare_rate_limit.json"))

    with pytest.raises(RateLimitError) as raised:
        make_dataset(server).fetch("BTC-USD")

    assert str(raised.value) == (
        "cryptocompare BTC-USD: gave up after 3 attempts: rate limited: "
        "You are over your rate limit please upgrade your account!"
    )
    assert len(server.log) == 3


def test_other_error_payload_fails_at_once(server):
    server.expect_request(PATH).respond_with_json(payload("cryptocompare_error_market.json"))

    with pytest.raises(ProviderError) as raised:
        make_dataset(server).fetch("FOO-USD")

    assert not isinstance(raised.value, RateLimitError)
    assert str(raised.value) == (
        "cryptocompare FOO-USD: rejected: CCCAGG market does not exist for this coin pair (FOO-USD)"
    )
    assert len(server.log) == 1


def test_persistent_5xx_gives_up_naming_provider_and_symbol(server):
    server.expect_request(PATH).respond_with_data("upstream error", status=502)

    with pytest.raises(ProviderError) as raised:
        make_dataset(server).fetch("BTC-USD")

    assert not isinstance(raised.value, RateLimitError)
    assert str(raised.value).startswith("cryptocompare BTC-USD: gave up after 3 attempts: HTTP 502")
    assert len(server.log) == 3


def test_http_429_with_retry_after_then_success(server, caplog):
    server.expect_oneshot_request(PATH).respond_with_data(
        "Too Many Requests", status=429, headers={"Retry-After": "30"}
    )
    server.expect_request(PATH).respond_with_json(payload("cryptocompare_histohour_page1.json"))

    caplog.set_level(logging.WARNING, logger="rps_kedro.datasets._http")
    bars = make_dataset(server).fetch("BTC-USD")

    assert len(bars) == 6
    assert len(server.log) == 2
    assert "retry 1/2 in 0.05s" in caplog.text  # Retry-After capped at max_delay (0.05 s)


def test_timeout_is_retried_then_reported(server):
    dataset = make_dataset(server, retry={**RETRY, "timeout": 0.2})
    assert_timeout_retried(
        server,
        PATH,
        lambda: dataset.fetch("BTC-USD"),
        r"cryptocompare BTC-USD: .*timed out after 0.2s",
    )


def test_malformed_json_fails_without_retry(server):
    server.expect_request(PATH).respond_with_data(
        '{"Response":"Success","Data":{"Data":[{"time":1711918800,', mimetype="application/json"
    )

    with pytest.raises(ProviderError, match="cryptocompare BTC-USD: malformed JSON"):
        make_dataset(server).fetch("BTC-USD")
    assert len(server.log) == 1


def test_empty_series_gives_empty_contract_frame(server):
    server.expect_request(PATH).respond_with_json(payload("cryptocompare_histohour_empty.json"))

    bars = make_dataset(server).fetch("BTC-USD")

    assert bars.empty
    assert_bars_contract(bars)
    assert len(server.log) == 1


def test_since_at_last_complete_bar_makes_no_request(server):
    bars = make_dataset(server).fetch("BTC-USD", since=utc("2024-03-31 23:00"))

    assert bars.empty
    assert_bars_contract(bars)
    assert len(server.log) == 0


BAR = {"time": 1711918800, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volumefrom": 1.0}
SUCCESS = {"Response": "Success", "Message": ""}


@pytest.mark.parametrize(
    ("body", "found"),
    [
        pytest.param(
            {**SUCCESS, "Data": [BAR]}, r"'Data' is a list of 1, expected the v2", id="v1"
        ),
        pytest.param({**SUCCESS, "Data": None}, r"'Data' is null", id="data-null"),
        pytest.param({**SUCCESS, "Data": {"Data": {"a": 1}}}, r"'Data.Data' is a dict", id="rows"),
        pytest.param({**SUCCESS, "Data": {"Data": [[1, 2]]}}, r"bar 0 is a list of 2", id="bar"),
        pytest.param(
            {**SUCCESS, "Data": {"Data": [BAR, {"time": 1}]}},
            r"bar 1 is a dict with keys \[time\], expected a dict with \['time'",
            id="bar-fields",
        ),
        pytest.param([BAR], r"the payload is a list of 1", id="payload-list"),
        pytest.param("Success", r"the payload is a str", id="payload-str"),
    ],
)
def test_unexpected_shape_is_refused_naming_it(server, body, found):
    assert_refused(
        server,
        PATH,
        body,
        lambda: make_dataset(server).fetch("BTC-USD"),
        rf"^cryptocompare BTC-USD: unexpected payload shape: {found}",
    )


def test_dripping_server_fails_on_the_overall_deadline(server):
    dataset = make_dataset(server, deadline=0.8)
    assert_deadline_exceeded(
        server, PATH, lambda: dataset.fetch("BTC-USD"), "cryptocompare BTC-USD", 0.8
    )
