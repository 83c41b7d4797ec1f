"""The forecast pipeline on an in-memory catalog: the champion bundle trained by the training
pipeline forecasts each symbol's next bar, published by symbol and logged like the service's."""

import pandas as pd
import pytest
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from rps_kedro.core.model_names import MODEL_ARTIFACT
from rps_kedro.pipelines.forecast import create_pipeline
from rps_kedro.pipelines.training import create_pipeline as create_training_pipeline
from tests.conftest import SYMBOLS, project_parameters
from tests.pipelines.conftest import NoChampion


@pytest.fixture
def forecast_catalog(modelling_catalog, simulated_bars) -> DataCatalog:
    """A trained bundle as the champion (version 3), the primary bars, the symbols."""
    SequentialRunner().run(create_training_pipeline(), modelling_catalog)
    catalog = DataCatalog()
    catalog["champion_bundle"] = {
        "name": "rps_kedro",
        "alias": "champion",
        "version": 3,
        "run_id": "r",
        "model": modelling_catalog[MODEL_ARTIFACT].load(),
    }
    catalog["recent_primary_bars"] = simulated_bars
    catalog["market_source"] = modelling_catalog["market_source"]
    catalog["params:ingestion.symbols"] = [*SYMBOLS, "NOT-TRADED"]
    catalog["params:forecast.fallback"] = project_parameters()["forecast"]["fallback"]
    catalog["params:sharding"] = project_parameters()["sharding"]
    return catalog


def test_every_symbol_gets_the_forecast_of_its_next_bar(forecast_catalog, simulated_bars):
    before = pd.Timestamp.now(tz="UTC").floor("s")
    SequentialRunner().run(create_pipeline(), forecast_catalog)
    (partition, logged), *others = forecast_catalog["prediction_log"].load().items()
    assert not others and partition.startswith(f"date={before:%Y-%m-%d}/hour=")
    forecasts = logged.assign(
        **{c: pd.to_datetime(logged[c], utc=True) for c in ("timestamp", "served_at")}
    )
    latest = simulated_bars.groupby("symbol")["timestamp"].max()
    assert sorted(forecasts["symbol"]) == sorted(SYMBOLS)  # no bars, no forecast
    assert (forecasts.set_index("symbol")["timestamp"] == latest).all()
    assert (logged["prediction_for"] > logged["timestamp"]).all()  # ISO text orders as time
    assert (forecasts["served_at"] >= before).all() and set(forecasts["source"]) == {"scheduled"}
    assert set(forecasts["model_version"]) == {"3"} and forecasts["request_id"].nunique() == 1
    assert (forecasts["persistence_log_return"] == 0).all()
    assert (forecasts["har_volatility"] > 0).all()

    published = forecast_catalog["latest_forecasts"].load()
    assert sorted(published) == sorted(SYMBOLS)
    assert published["BTC-USD"]["prediction_for"].endswith("Z")
    assert {record["data_source"] for record in published.values()} == {"simulated"}


def test_no_champion_no_forecasts(forecast_catalog):
    forecast_catalog["champion_bundle"] = NoChampion()
    SequentialRunner().run(create_pipeline(), forecast_catalog)
    assert forecast_catalog["latest_forecasts"].load() == {}
    assert forecast_catalog["prediction_log"].load() == {}


def test_a_forecast_out_of_the_training_range_is_the_baselines_and_says_so(
    forecast_catalog, simulated_bars
):
    """BTC-USD's last bar jumps 60 %: its features leave the training range; with no tolerance
    (share 0) that forecast is HAR's, flagged; the others are the model's."""
    bars = simulated_bars.copy()
    last = bars.index[bars["symbol"] == "BTC-USD"][-1]
    bars.loc[last, ["high", "close"]] = bars.loc[last, ["high", "close"]] * 1.6
    forecast_catalog["recent_primary_bars"] = bars
    forecast_catalog["params:forecast.fallback"] = {
        "max_out_of_range_share": 0.0,
        "baseline": "har",
    }
    SequentialRunner().run(create_pipeline(), forecast_catalog)
    published = pd.DataFrame(forecast_catalog["latest_forecasts"].load()).T
    assert (published["fallback"] == (published["out_of_range_share"] > 0)).all()
    btc = published.loc["BTC-USD"]
    assert btc["fallback"] and "outside the training range" in btc["fallback_reason"]
    assert btc["predicted_volatility"] == btc["har_volatility"]
    assert btc["predicted_log_return"] == btc["har_log_return"] == 0
