"""GET /forecast/{symbol} on the forecasts' folder: the latest record with its age, 404, 503."""

import json
from datetime import UTC, datetime, timedelta

from starlette.testclient import TestClient

from rps_kedro.core.symbol_names import symbol_file_name
from rps_kedro.serving.forecasts import forecast_app


def _publish(path, served_at: datetime, symbols: list[str]) -> None:
    """One file per symbol, as the forecast pipeline's dataset writes them."""
    stamp = served_at.isoformat().replace("+00:00", "Z")
    path.mkdir(exist_ok=True)
    for symbol in symbols:
        record = {"symbol": symbol, "served_at": stamp, "predicted_close": 1.5}
        (path / f"{symbol_file_name(symbol)}.json").write_text(json.dumps(record))


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

    _publish(path, datetime.now(UTC), ["DOGE-USD", "BRK.B"])  # a new publication is read at once
    assert client.get("/DOGE-USD").json()["age_seconds"] < 60
    assert client.get("/BRK.B").status_code == 200
    assert client.get("/BTC-USD").json()["age_seconds"] > 1790, "another shard's, as it was"
    _publish(path, datetime.now(UTC), ["BTC-USD"])
    assert client.get("/BTC-USD").json()["age_seconds"] < 60
