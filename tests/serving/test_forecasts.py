"""GET /forecast/{symbol} on the forecasts file: the latest record with its age, 404, 503."""

import json
from datetime import UTC, datetime, timedelta

from starlette.testclient import TestClient

from rps_kedro.serving.forecasts import forecast_app


def _publish(folder, served_at: datetime, symbols: list[str], shard: str = "shard-0-of-1") -> None:
    stamp = served_at.isoformat().replace("+00:00", "Z")
    records = {s: {"symbol": s, "served_at": stamp, "predicted_close": 1.5} for s in symbols}
    folder.mkdir(exist_ok=True)
    (folder / f"{shard}.json").write_text(json.dumps({"forecasts": records}))


def test_the_latest_forecast_of_a_symbol_with_its_age(tmp_path):
    path = tmp_path / "latest_forecasts"
    client = TestClient(forecast_app(path))
    answer = client.get("/BTC-USD")
    assert answer.status_code == 503 and answer.json()["detail"][0]["type"] == "no_forecasts"

    _publish(path, datetime.now(UTC) - timedelta(minutes=30), ["BTC-USD", "AAPL"])
    answer = client.get("/BTC-USD")
    assert answer.status_code == 200
    assert answer.json()["predicted_close"] == 1.5
    assert 1790 <= answer.json()["age_seconds"] <= 1900

    unknown = client.get("/DOGE-USD")
    assert unknown.status_code == 404
    assert "AAPL, BTC-USD" in unknown.json()["detail"][0]["msg"]

    _publish(path, datetime.now(UTC), ["DOGE-USD"])  # a new publication is read at once
    assert client.get("/DOGE-USD").json()["age_seconds"] < 60
    assert client.get("/BTC-USD").status_code == 404


def test_every_shards_forecasts_are_answered_the_newest_of_a_symbol_winning(tmp_path):
    folder = tmp_path / "latest_forecasts"
    client = TestClient(forecast_app(folder))
    now = datetime.now(UTC)
    _publish(folder, now - timedelta(hours=2), ["AAPL", "BTC-USD"], "shard-0-of-1")  # before shards
    _publish(folder, now - timedelta(minutes=5), ["AAPL"], "shard-0-of-2")
    _publish(folder, now - timedelta(minutes=4), ["BTC-USD", "ETH-USD"], "shard-1-of-2")
    ages = {s: client.get(f"/{s}").json()["age_seconds"] for s in ["AAPL", "BTC-USD", "ETH-USD"]}
    assert 290 <= ages["AAPL"] <= 400
    assert 230 <= ages["BTC-USD"] <= 340 and 230 <= ages["ETH-USD"] <= 340
