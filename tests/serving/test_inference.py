"""The request path's model call with a stand-in forecaster: the columns are the items' tails,
merged requests keep their own rows, and unusable bars become errors, not exceptions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from rps_kedro.core.bars import empty_bars
from rps_kedro.core.features import BarArrays, feature_columns, required_lookback
from rps_kedro.core.model import ForecastModel
from rps_kedro.core.model_names import REGISTERED_MODEL_NAME
from rps_kedro.serving.inference import Item, ModelInfo, Predictor
from rps_kedro.serving.request_checks import BarColumns, InvalidInput
from rps_kedro.serving.schemas import Bar
from rps_kedro.serving.settings import settings
from tests.conftest import project_parameters

PARAMS = project_parameters()
FEATURES = PARAMS["features"]
LOOKBACK = required_lookback(FEATURES)


MAX_VOLATILITY = 0.03  # the stand-in's "training range" of volatility


@dataclass
class EchoForecaster:
    """Predicts this bar's log return and Garman-Klass volatility (a persistence stand-in),
    the volatility clipped at MAX_VOLATILITY like a learned model's at its training range."""

    feature_columns: list[str]

    def forecast(self, rows) -> dict[str, np.ndarray]:
        volatility = rows["garman_klass_volatility"]
        return {
            "predicted_log_return": rows["log_return"],
            "predicted_volatility": np.minimum(volatility, MAX_VOLATILITY),
            "clipped_log_return": np.zeros(len(rows), dtype=bool),
            "clipped_volatility": volatility > MAX_VOLATILITY,
        }

    def baseline_forecasts(self, rows) -> dict[str, np.ndarray]:
        return {"persistence_log_return": np.zeros(len(rows))}


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    names = feature_columns(FEATURES)
    reference = {"features": {n: {"lower": -1e9, "upper": 1e9} for n in names}}
    reference["features"]["log_return"] = {"lower": -0.001, "upper": 0.001}
    model = ForecastModel.build(EchoForecaster(names), FEATURES, reference, empty_bars())
    return Predictor(model, ModelInfo(REGISTERED_MODEL_NAME, "7", "champion"))


def item(symbol: str, bars: pd.DataFrame) -> Item:
    stamps = bars["timestamp"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    columns = {c: bars[c].to_numpy(dtype=float) for c in ("open", "high", "low", "close", "volume")}
    return Item(symbol, BarColumns(stamps, **columns))


def test_the_columns_are_the_tails_keyed_per_item_in_item_order(predictor, simulated_bars):
    btc = simulated_bars[simulated_bars["symbol"] == "BTC-USD"].tail(LOOKBACK + 20)
    aapl = simulated_bars[simulated_bars["symbol"] == "AAPL"].tail(LOOKBACK)
    bars, last_rows = predictor.bars([item("BTC-USD", btc), item("AAPL", aapl)])
    expected = BarArrays.from_frame(
        pd.concat(
            [btc.tail(LOOKBACK).assign(symbol="BTC-USD|000000"), aapl.assign(symbol="AAPL|000001")]
        )
    )
    for name in BarArrays.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(bars, name), getattr(expected, name))
    assert bars.symbol[last_rows].tolist() == ["BTC-USD|000000", "AAPL|000001"]


def test_requests_for_the_same_symbol_keep_their_own_rows(predictor, simulated_bars):
    btc = simulated_bars[simulated_bars["symbol"] == "BTC-USD"]
    latest, earlier = btc.tail(LOOKBACK), btc.iloc[-LOOKBACK - 10 : -10]
    together = predictor.predict([item("BTC-USD", latest), item("BTC-USD", earlier)])
    alone = [predictor.predict([item("BTC-USD", bars)])[0] for bars in (latest, earlier)]
    for merged, single in zip(together, alone, strict=True):
        assert merged.prediction["timestamp"] == single.prediction["timestamp"]
        assert merged.prediction["predicted_log_return"] == pytest.approx(
            single.prediction["predicted_log_return"], rel=1e-9
        )
    assert together[0].prediction["timestamp"] == latest["timestamp"].iloc[-1].to_pydatetime()
    assert together[0].prediction["model_version"] == "7"


def test_out_of_range_features_are_listed(predictor, simulated_bars):
    btc = simulated_bars[simulated_bars["symbol"] == "BTC-USD"].tail(LOOKBACK).copy()
    btc.loc[btc.index[-1], ["close", "high"]] = btc["close"].iloc[-2] * 1.05
    outcome = predictor.predict([item("BTC-USD", btc)])[0]
    assert "log_return" in outcome.prediction["out_of_range_features"]
    assert outcome.prediction["out_of_range_share"] == pytest.approx(
        len(outcome.prediction["out_of_range_features"]) / len(predictor.feature_names)
    )


def test_clipped_forecasts_are_named_in_the_answer(predictor, simulated_bars):
    btc = simulated_bars[simulated_bars["symbol"] == "BTC-USD"].tail(LOOKBACK).copy()
    calm = predictor.predict([item("BTC-USD", btc)])[0].prediction
    assert calm["clipped_targets"] == []
    btc.loc[btc.index[-1], "high"] = btc["close"].iloc[-1] * 1.2  # a crash-sized range
    wild = predictor.predict([item("BTC-USD", btc)])[0].prediction
    assert wild["clipped_targets"] == ["volatility"]
    assert wild["predicted_volatility"] == MAX_VOLATILITY


def test_bars_whose_features_are_not_finite_get_an_error_and_the_others_an_answer(
    predictor, simulated_bars
):
    btc = simulated_bars[simulated_bars["symbol"] == "BTC-USD"].tail(LOOKBACK).copy()
    broken = btc.copy()
    broken.loc[broken.index[-1], ["high", "low"]] = [1e300, 1e-300]  # high / low overflows
    outcomes = predictor.predict([item("BTC-USD", btc), item("ETH-USD", broken)])
    assert outcomes[0].prediction is not None and outcomes[0].errors is None
    assert outcomes[1].prediction is None
    assert outcomes[1].errors[0].type == "features_not_finite"
    assert "garman_klass_volatility" in outcomes[1].errors[0].msg


def test_a_stocks_last_bar_before_a_holiday_is_predicted_for_the_next_session(
    predictor, simulated_bars
):
    before_juneteenth = simulated_bars["timestamp"] <= pd.Timestamp("2025-06-18 19:00", tz="UTC")
    bars = simulated_bars[before_juneteenth]
    aapl = bars[bars["symbol"] == "AAPL"].tail(LOOKBACK)
    btc = bars[bars["symbol"] == "BTC-USD"].tail(LOOKBACK)
    stock, crypto = predictor.predict([item("AAPL", aapl), item("BTC-USD", btc)])
    assert stock.prediction["prediction_for"] == datetime(2025, 6, 20, 13, tzinfo=UTC)
    assert crypto.prediction["prediction_for"] == datetime(2025, 6, 18, 20, tzinfo=UTC)


def test_a_stock_outside_the_exchange_calendar_is_invalid_input_not_a_server_error(predictor):
    start = datetime(1995, 1, 3, 15, tzinfo=UTC)
    bars = [
        Bar(timestamp=start + i * timedelta(hours=1), open=10, high=12, low=9, close=11, volume=5)
        for i in range(LOOKBACK)
    ]
    requests, locs = [("AAPL", bars), ("BTC-USD", bars)], [("requests", 0), ("requests", 1)]
    with pytest.raises(InvalidInput) as raised:
        predictor.items(requests, locs, settings().limits)
    (only,) = raised.value.errors
    assert (only.loc, only.type) == (
        ["requests", 0, "bars", LOOKBACK - 1, "timestamp"],
        "timestamp_range",
    )
    assert "XNYS calendar" in only.msg
