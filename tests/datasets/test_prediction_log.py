"""The prediction log dataset reads the service's hourly files and the scheduled partitions
alike, and is empty (not an error) before anything was logged."""

from datetime import UTC, datetime

import pandas as pd
import yaml
from kedro.io import DataCatalog

from rps_kedro.pipelines.live_scoring.nodes import collect_predictions
from rps_kedro.serving.prediction_log import PredictionLog
from tests.conftest import PROJECT_ROOT

SERVED_AT = datetime(2026, 11, 30, 14, 5, 7, 123456, tzinfo=UTC)  # the service's: microseconds


def _catalog(folder) -> DataCatalog:
    """The project's `prediction_log` entry, pointed at `folder`."""
    entry = yaml.safe_load((PROJECT_ROOT / "conf/base/catalog.yml").read_text())["prediction_log"]
    return DataCatalog.from_config({"prediction_log": {**entry, "path": str(folder)}})


def _forecast(symbol: str, version: str) -> dict:
    return {
        "request_id": f"{symbol}-{version}",
        "source": "http",
        "served_at": SERVED_AT,
        "symbol": symbol,
        "timestamp": datetime(2026, 11, 30, 13, tzinfo=UTC),
        "prediction_for": datetime(2026, 11, 30, 14, tzinfo=UTC),
        "model_version": version,
        "out_of_range_features": ["rsi_14"],
    }


def test_service_and_scheduled_forecasts_load_alike(tmp_path):
    catalog = _catalog(tmp_path)
    assert catalog["prediction_log"].load() == {}
    log = PredictionLog(tmp_path, writer="host-1")
    log.record([_forecast("BTC-USD", "3")])
    log.close()
    scheduled = pd.DataFrame([_forecast("AAPL", "3")]).assign(
        served_at="2026-11-30T14:05:07Z",  # the forecast pipeline's: whole seconds
        timestamp="2026-11-30T13:00:00Z",
        prediction_for="2026-11-30T14:00:00Z",
    )
    catalog["prediction_log"].save({"date=2026-11-30/hour=14/scheduled-0500": scheduled})

    partitions = catalog["prediction_log"].load()
    assert sorted(partitions) == [
        "date=2026-11-30/hour=14/host-1",
        "date=2026-11-30/hour=14/scheduled-0500",
    ]
    params = {"as_of": "2026-11-30T15:00:00Z", "lookback_days": 1}
    forecasts = collect_predictions(partitions, params).set_index("symbol")
    assert forecasts.loc["BTC-USD", "served_at"] == pd.Timestamp(SERVED_AT)
    assert forecasts.loc["AAPL", "served_at"] == pd.Timestamp(SERVED_AT).floor("s")
    assert forecasts.loc["BTC-USD", "prediction_for"] == pd.Timestamp(SERVED_AT).floor("h")
    assert forecasts.loc["AAPL", "out_of_range_features"] == ["rsi_14"]
    assert set(forecasts["model_version"]) == {"3"}
