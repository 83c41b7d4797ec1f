"""BinanceDataset against a replayed Binance /api/v3/klines."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest
from werkzeug import Request, Response

from rps_kedro.core.bars import VALUE_COLUMNS
from rps_kedro.datasets import BinanceDataset, ProviderError, RateLimitError
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
PATH = "/api/v3/klines"


def payload(name: str):
    return json.loads((FIXTURES / name).read_text())


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def millis(text: str) -> str:
    return str(int(utc(text).timestamp() * 1000))


def make_dataset(server, **kwargs) -> BinanceDataset:
    options = {
        "base_url": server.url_for("/"),
        "retry": RETRY,
        "clock": lambda: NOW,
        "backfill_hours": 8,
        **kwargs,
    }
    return BinanceDataset(**options)


def test_pages_forwards_with_start_time(server):
    pages = {
        millis("2024-03-31 16:00"): payload("binance_klines_page1.json"),
        millis("2024-03-31 21:00"): payload("binance_klines_page2.json"),
    }

    def klines(request: Request) -> Response:
        return Response(json.dumps(pages[request.args["startTime"]]), mimetype="application/json")

    server.expect_request(PATH).respond_with_handler(klines)

    # Window 16:00..23:00 (8 bars) with pages of 5: a full page, then a short one ends it.
    bars = make_dataset(server, page_limit=5).fetch("BTC-USDT")

    assert_bars_contract(bars)
    assert bars["timestamp"].tolist() == list(
        pd.date_range(utc("2024-03-31 16:00"), utc("2024-03-31 23:00"), freq="h")
    )
    assert (bars["symbol"] == "BTC-USDT").all()
    kline = payload("binance_klines_page1.json")[0]
    assert bars.iloc[0][VALUE_COLUMNS].tolist() == [float(value) for value in kline[1:6]]
    common = {"symbol": "BTCUSDT", "interval": "1h", "endTime": millis("2024-03-31 23:00")}
    assert queries(server) == [
        {**common, "startTime": millis("2024-03-31 16:00"), "limit": "5"},
        {**common, "startTime": millis("2024-03-31 21:00"), "limit": "5"},
    ]


def test_invalid_symbol_http_400_fails_at_once(server):
    server.expect_request(PATH).respond_with_json(
        payload("binance_error_invalid_symbol.json"), status=400
    )

    with pytest.raises(ProviderError) as raised:
        make_dataset(server).fetch("FOO-BAR")

    assert not isinstance(raised.value, RateLimitError)
    assert str(raised.value) == "binance FOO-BAR: error -1121: Invalid symbol."
    assert (raised.value.provider, raised.value.symbol) == ("binance", "FOO-BAR")
    assert len(server.log) == 1


def test_http_429_with_retry_after_then_success(server, caplog):
    server.expect_oneshot_request(PATH).respond_with_json(
        payload("binance_error_429.json"), status=429, headers={"Retry-After": "60"}
    )
    server.expect_request(PATH).respond_with_json(payload("binance_klines_page1.json"))

    caplog.set_level(logging.WARNING, logger="rps_kedro.datasets._http")
    bars = make_dataset(server).fetch("BTC-USDT")

    assert len(bars) == 5
    assert len(server.log) == 2
    assert queries(server)[0] == queries(server)[1]
    assert "retry 1/2 in 0.05s" in caplog.text  # Retry-After capped at max_delay (0.05 s)


def test_persistent_http_418_raises_rate_limit_error(server, caplog):
    server.expect_request(PATH).respond_with_json(
        payload("binance_error_418.json"), status=418, headers={"Retry-After": "120"}
    )

    caplog.set_level(logging.WARNING, logger="rps_kedro.datasets._http")
    with pytest.raises(RateLimitError) as raised:
        make_dataset(server).fetch("BTC-USDT")

    message = str(raised.value)
    assert message.startswith("binance BTC-USDT: gave up after 3 attempts: HTTP 418: ")
    assert "IP banned until" in message
    assert len(server.log) == 3
    assert caplog.text.count("in 0.05s") == 2  # Retry-After 120 s capped at max_delay


def test_persistent_5xx_gives_up_naming_provider_and_symbol(server):
    server.expect_request(PATH).respond_with_data("Internal Server Error", status=500)

    with pytest.raises(ProviderError) as raised:
        make_dataset(server).fetch("BTC-USDT")

    assert not isinstance(raised.value, RateLimitError)
    assert str(raised.value) == (
        "binance BTC-USDT: gave up after 3 attempts: HTTP 500: Internal Server Error"
    )
    assert len(server.log) == 3


def test_timeout_is_retried_then_reported(server):
    dataset = make_dataset(server, retry={**RETRY, "timeout": 0.2})
    assert_timeout_retried(
        server, PATH, lambda: dataset.fetch("BTC-USDT"), r"binance BTC-USDT: .*timed out after 0.2s"
    )


def test_malformed_json_fails_without_retry(server):
    server.expect_request(PATH).respond_with_data(
        '[[1711900800000,"65000.0","65050.5"', mimetype="application/json"
    )

    with pytest.raises(ProviderError, match="binance BTC-USDT: malformed JSON"):
        make_dataset(server).fetch("BTC-USDT")
    assert len(server.log) == 1


def test_empty_klines_give_empty_contract_frame(server):
    server.expect_request(PATH).respond_with_json(payload("binance_klines_empty.json"))

    bars = make_dataset(server).fetch("BTC-USDT")

    assert bars.empty
    assert_bars_contract(bars)
    assert len(server.log) == 1


KLINE = [1711900800000, "1", "1", "1", "1", "1", 1711904399999, "1", 1, "1", "1", "0"]


@pytest.mark.parametrize(
    ("body", "found"),
    [
        pytest.param({"data": [KLINE]}, r"the payload is a dict with keys \[data\]", id="dict"),
        pytest.param("klines", r"the payload is a str", id="str"),
        pytest.param([KLINE, {"open": "1"}], r"kline 1 is a dict with keys \[open\]", id="row"),
        pytest.param([KLINE, KLINE[:3]], r"kline 1 is a list of 3", id="short-row"),
        pytest.param([None], r"kline 0 is null", id="null-row"),
    ],
)
def test_unexpected_shape_is_refused_naming_it(server, body, found):
    assert_refused(
        server,
        PATH,
        body,
        lambda: make_dataset(server).fetch("BTC-USDT"),
        rf"^binance BTC-USDT: unexpected payload shape: {found}",
    )


def test_dripping_server_fails_on_the_overall_deadline(server):
    dataset = make_dataset(server, deadline=0.8)
    assert_deadline_exceeded(
        server, PATH, lambda: dataset.fetch("BTC-USDT"), "binance BTC-USDT", 0.8
    )
