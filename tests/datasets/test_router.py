"""MarketRouterDataset: stocks and crypto pairs reach their own provider, with their own keys."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog, DatasetError

from rps_kedro.config import load_config
from rps_kedro.datasets import (
    AlphaVantageDataset,
    BinanceDataset,
    CryptoCompareDataset,
    MarketRouterDataset,
    MissingCredentialsError,
)
from tests.conftest import project_parameters

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "providers"
RETRY = {"max_attempts": 3, "base_delay": 0.01, "max_delay": 0.05, "timeout": 0.5}
NOW = pd.Timestamp("2024-03-12 21:30", tz="UTC")  # matches the Alpha Vantage fixture
CRYPTO_NOW = pd.Timestamp("2024-04-01 00:30", tz="UTC")  # matches the CryptoCompare fixture


def payload(name: str):
    return json.loads((FIXTURES / name).read_text())


def sides(server, stocks_credentials: str | dict | None) -> dict:
    """Router sides shaped like conf/live/catalog.yml, pointed at the replay server."""
    stocks = {
        "type": "rps_kedro.datasets.AlphaVantageDataset",
        "base_url": server.url_for("/stocks"),
        "retry": RETRY,
        "clock": lambda: NOW,
        "backfill_hours": 120,
    }
    if stocks_credentials is not None:
        stocks["credentials"] = stocks_credentials
    crypto = {
        "type": "rps_kedro.datasets.CryptoCompareDataset",
        "base_url": server.url_for("/crypto"),
        "retry": RETRY,
        "clock": lambda: CRYPTO_NOW,
        "backfill_hours": 6,
    }
    return {"stocks": stocks, "crypto": crypto}


def catalog_config(server) -> dict:
    return {
        "market_source": {
            "type": "rps_kedro.datasets.MarketRouterDataset",
            **sides(server, stocks_credentials="alpha_vantage"),
        }
    }


@pytest.fixture
def server(httpserver_ipv4):
    httpserver_ipv4.expect_request("/stocks/query").respond_with_json(
        payload("alpha_vantage_intraday_60min.json")
    )
    httpserver_ipv4.expect_request("/crypto/data/v2/histohour").respond_with_json(
        payload("cryptocompare_histohour_page1.json")
    )
    return httpserver_ipv4


def paths(server) -> list[str]:
    return [request.path for request, _ in server.log]


def test_symbols_go_to_the_provider_of_their_kind(server, monkeypatch):
    monkeypatch.delenv("ALPHAVANTAGE_API_KEY", raising=False)
    router = MarketRouterDataset(**sides(server, {"api_key": "ROUTER-KEY"}))

    stock = router.fetch("AAPL")
    assert paths(server) == ["/stocks/query"]
    assert server.log[0][0].args["symbol"] == "AAPL"
    assert server.log[0][0].args["apikey"] == "ROUTER-KEY"
    assert (stock["symbol"] == "AAPL").all()
    assert len(stock) == 21

    crypto = router.fetch("BTC-USD")
    assert paths(server) == ["/stocks/query", "/crypto/data/v2/histohour"]
    assert (server.log[1][0].args["fsym"], server.log[1][0].args["tsym"]) == ("BTC", "USD")
    assert "apikey" not in server.log[1][0].args
    assert (crypto["symbol"] == "BTC-USD").all()
    assert len(crypto) == 6

    assert isinstance(router.source_for("MSFT"), AlphaVantageDataset)
    assert isinstance(router.source_for("ETH-USD"), CryptoCompareDataset)
    assert router.source_for("MSFT") is router.source_for("AAPL")
    assert router._describe() == {"stocks": "alpha_vantage", "crypto": "cryptocompare"}
    assert "ROUTER-KEY" not in repr(router)


def test_binance_can_serve_the_crypto_side(server, monkeypatch):
    monkeypatch.setenv("ALPHAVANTAGE_API_KEY", "ENV-KEY")
    server.expect_request("/binance/api/v3/klines").respond_with_json(
        payload("binance_klines_page1.json")
    )
    definition = sides(server, None)
    definition["crypto"] = {
        "type": "rps_kedro.datasets.BinanceDataset",
        "base_url": server.url_for("/binance"),
        "retry": RETRY,
        "clock": lambda: pd.Timestamp("2024-03-31 21:10", tz="UTC"),
        "backfill_hours": 5,
    }
    router = MarketRouterDataset(**definition)

    bars = router.fetch("BTC-USDT")

    assert isinstance(router.source_for("BTC-USDT"), BinanceDataset)
    assert paths(server) == ["/binance/api/v3/klines"]
    assert server.log[0][0].args["symbol"] == "BTCUSDT"
    assert len(bars) == 5


def test_catalog_passes_credentials_by_key_name(server, monkeypatch):
    monkeypatch.delenv("ALPHAVANTAGE_API_KEY", raising=False)
    credentials = {"alpha_vantage": {"api_key": "CATALOG-KEY"}, "other": {"api_key": "WRONG"}}
    catalog = DataCatalog.from_config(catalog_config(server), credentials)

    source = catalog.load("market_source")
    bars = source.fetch("AAPL")

    assert isinstance(source, MarketRouterDataset)
    assert len(bars) == 21
    assert server.log[0][0].args["apikey"] == "CATALOG-KEY"
    assert "CATALOG-KEY" not in repr(catalog)


def test_catalog_placeholder_credentials_fall_back_to_environment(server, monkeypatch):
    monkeypatch.setenv("ALPHAVANTAGE_API_KEY", "ENV-KEY")
    catalog = DataCatalog.from_config(catalog_config(server), {"alpha_vantage": {}})

    catalog.load("market_source").fetch("AAPL")

    assert server.log[0][0].args["apikey"] == "ENV-KEY"


def test_catalog_without_any_key_names_the_fix(server, monkeypatch):
    monkeypatch.delenv("ALPHAVANTAGE_API_KEY", raising=False)

    catalog = DataCatalog.from_config(catalog_config(server), {"alpha_vantage": {}})

    with pytest.raises(DatasetError, match="ALPHAVANTAGE_API_KEY") as raised:
        catalog.load("market_source")  # the catalog builds the router on first use

    assert isinstance(raised.value.__cause__, MissingCredentialsError)
    assert "credentials.yml" in str(raised.value)
    assert len(server.log) == 0


def test_live_catalog_gives_every_provider_a_deadline_and_the_calendar(monkeypatch):
    monkeypatch.setenv("ALPHAVANTAGE_API_KEY", "ENV-KEY")
    live = yaml.safe_load((PROJECT_ROOT / "conf/live/catalog.yml").read_text())["market_source"]
    catalog = DataCatalog.from_config(
        load_config("catalog", PROJECT_ROOT / "conf", "live"), {"alpha_vantage": {}}
    )

    router = catalog.load("market_source")

    for kind, source in router.sources.items():
        assert source.client.deadline == live[kind]["deadline"]
        assert source.client.deadline > source.client.retry.timeout
    assert router.sources["stocks"].calendar == router.calendar


@pytest.mark.parametrize("now", ["2025-01-02 21:00", "2025-07-07 14:00", "2025-12-01 15:00"])
def test_live_first_fetch_of_a_new_stock_covers_the_gates_minimum_history(monkeypatch, now):
    monkeypatch.setenv("ALPHAVANTAGE_API_KEY", "ENV-KEY")
    stocks = DataCatalog.from_config(
        load_config("catalog", PROJECT_ROOT / "conf", "live"), {"alpha_vantage": {}}
    ).load("market_source")
    stocks = stocks.sources["stocks"]
    end = pd.Timestamp(now, tz="UTC")
    start = end - pd.Timedelta(hours=stocks.backfill_hours)
    expected_bars = len(stocks.calendar.trading_hours("AAPL", start, end))
    assert expected_bars >= project_parameters("live")["validation"]["min_history_bars"]
