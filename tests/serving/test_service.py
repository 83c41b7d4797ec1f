"""The service over real HTTP (`bentoml serve` on a free port): readiness, answers equal to the
champion's pyfunc, a 4xx naming the field for every kind of bad input, metrics that move, and
the drift ratio rising on the simulator's regime-shifted bars."""

from __future__ import annotations

import copy
import json
import math
import socket
import urllib.parse

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from rps_kedro.core.bars import as_model_input
from rps_kedro.core.features import feature_columns, required_lookback
from rps_kedro.core.model_names import REGISTERED_MODEL_NAME
from rps_kedro.datasets import LatestForecastsDataset, SimulatedMarketDataset
from rps_kedro.pipelines.forecast.nodes import forecast_next_hour, latest_forecasts
from rps_kedro.serving.settings import settings
from tests.conftest import project_parameters
from tests.serving.conftest import TEST_DRIFT_WINDOW
from tests.serving.support import SIMULATOR_END, metric_samples, raw_request
from tests.support.servers import wait_until
from tools.replay_traffic import predict_body

pytestmark = pytest.mark.integration

LOOKBACK = 169  # required_lookback of conf/base/parameters_features.yml (checked below)
BARS_SENT = 200
LIMITS = settings().limits
COMPARED = ["close", "predicted_close", "predicted_log_return", "predicted_volatility"]


@pytest.fixture(scope="module")
def champion(trained_model):
    """The registry's champion as MLflow pyfunc, the way training and the registry load it."""
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{trained_model.project / 'mlflow.db'}")
    try:
        yield mlflow.pyfunc.load_model(f"models:/{REGISTERED_MODEL_NAME}@champion")
    finally:
        mlflow.set_tracking_uri(previous)


@pytest.fixture
def btc_body(trained_model) -> dict:
    return predict_body("BTC-USD", trained_model.recent_bars("BTC-USD", BARS_SENT))


def _json(body: bytes) -> dict:
    return json.loads(body)


def test_readyz_is_503_until_the_model_is_loaded_and_early_requests_wait(service):
    assert service.readiness[0] == 503, service.readiness
    assert service.readiness[-1] == 200
    assert set(service.readiness) == {503, 200}
    assert service.early_request["sent_while_ready"] is False
    assert service.early_request["status"] == 200, service.early_request.get("body")
    assert service.get("/livez")[0] == 200


@pytest.mark.parametrize("symbol", ["AAPL", "BTC-USD"])
def test_predict_equals_the_champion_pyfunc_on_the_same_bars(
    service, trained_model, champion, symbol
):
    bars = trained_model.recent_bars(symbol, BARS_SENT, end=30)
    status, body = service.post("/predict", predict_body(symbol, bars))
    assert status == 200, body
    answer = _json(body)
    expected = champion.predict(as_model_input(bars)).iloc[-1]
    for column in COMPARED:
        np.testing.assert_allclose(answer[column], expected[column], rtol=1e-9, atol=1e-15)
    assert answer["out_of_range_share"] == pytest.approx(expected["out_of_range_share"])
    expected_features = expected["out_of_range_features"]
    assert answer["out_of_range_features"] == (
        expected_features.split(",") if expected_features else []
    )
    assert pd.Timestamp(answer["timestamp"]) == expected["timestamp"]
    assert pd.Timestamp(answer["prediction_for"]) == pd.Timestamp(expected["prediction_for"])
    assert answer["symbol"] == symbol
    assert (answer["model_version"], answer["model_alias"]) == ("1", "champion")
    assert answer["data_source"] == "simulated"  # the project's market_source: the simulator


def test_predict_batch_answers_each_symbol_in_order_like_predict(service, trained_model):
    requests = [
        predict_body("BTC-USD", trained_model.recent_bars("BTC-USD", BARS_SENT)),
        predict_body("AAPL", trained_model.recent_bars("AAPL", LOOKBACK)),
        predict_body("BTC-USD", trained_model.recent_bars("BTC-USD", LOOKBACK, end=5)),
    ]
    status, body = service.post("/predict_batch", {"requests": requests})
    assert status == 200, body
    batch = _json(body)["predictions"]
    singles = [_json(service.post("/predict", request)[1]) for request in requests]
    for merged, single in zip(batch, singles, strict=True):
        # Rolling sums run over the whole merged column: equal up to rounding.
        for column in COMPARED:
            assert merged.pop(column) == pytest.approx(single.pop(column), rel=1e-9)
        assert merged == single
    assert [p["symbol"] for p in batch] == ["BTC-USD", "AAPL", "BTC-USD"]
    assert batch[0]["timestamp"] != batch[2]["timestamp"]


def _set(index: int, field: str, value: object):
    def breaker(body: dict) -> None:
        body["bars"][index][field] = value

    return breaker


def _swap_bars(body: dict) -> None:
    bars = body["bars"]
    bars[10], bars[11] = bars[11], bars[10]


def _duplicate_timestamp(body: dict) -> None:
    body["bars"][11]["timestamp"] = body["bars"][10]["timestamp"]


def _half_past(body: dict) -> None:
    body["bars"][12]["timestamp"] = body["bars"][12]["timestamp"].replace(":00:00Z", ":30:00Z")


def _flat_prices(index: int, price: float):
    def breaker(body: dict) -> None:
        body["bars"][index].update(open=price, high=price, low=price, close=price)

    return breaker


def _swap_high_low(body: dict) -> None:
    bar = body["bars"][19]
    bar["high"], bar["low"] = bar["low"], bar["high"]


# kind: (how to break a valid body, the field path named, words of the reason)
BAD_INPUTS = {
    "too_few_bars": (
        lambda b: b.update(bars=b["bars"][: LOOKBACK - 1]),
        ["bars"],
        "168 bars given; the model needs at least 169",
    ),
    "unordered": (_swap_bars, ["bars", 11, "timestamp"], "ascending time order"),
    "duplicate": (_duplicate_timestamp, ["bars", 11, "timestamp"], "duplicates bars[10]"),
    "not_on_the_hour": (_half_past, ["bars", 12, "timestamp"], "not the start of an hour"),
    "hour_missing": (lambda b: b["bars"].pop(13), ["bars", 13, "timestamp"], "at most 1 h"),
    "nan": (_set(14, "close", math.nan), ["bars", 14, "close"], "finite number"),
    "infinite": (_set(15, "volume", math.inf), ["bars", 15, "volume"], "finite number"),
    "null": (_set(16, "open", None), ["bars", 16, "open"], "valid number"),
    "zero_price": (_set(17, "low", 0.0), ["bars", 17, "low"], "greater than 0"),
    "negative_volume": (_set(18, "volume", -1.0), ["bars", 18, "volume"], "greater than or"),
    "high_below_low": (_swap_high_low, ["bars", 19, "high"], "is below low"),
    "missing_field": (lambda b: b["bars"][20].pop("volume"), ["bars", 20, "volume"], "required"),
    "unknown_field": (_set(21, "vwap", 1.0), ["bars", 21, "vwap"], "Extra inputs"),
    "bad_symbol": (lambda b: b.update(symbol="BTC|USD"), ["symbol"], "should match pattern"),
    "too_many_bars": (
        lambda b: b.update(bars=b["bars"] * (LIMITS.max_bars // len(b["bars"]) + 1)),
        ["bars"],
        f"at most {LIMITS.max_bars} items",
    ),
    "bad_timestamp": (_set(22, "timestamp", "yesterday"), ["bars", 22, "timestamp"], "datetime"),
    "timestamp_out_of_range": (
        _set(23, "timestamp", "1900-01-01T00:00:00Z"),
        ["bars", 23, "timestamp"],
        "outside the supported range",
    ),
    # strict JSON numbers: never coerced
    "price_as_string": (_set(24, "close", "101.5"), ["bars", 24, "close"], "valid number"),
    "price_as_boolean": (_set(25, "open", True), ["bars", 25, "open"], "valid number"),
    "volume_as_string": (_set(26, "volume", "7"), ["bars", 26, "volume"], "valid number"),
    # moves no market makes in an hour: a corrupt value or a unit change
    "price_collapse": (
        _flat_prices(27, 1e-9),
        ["bars", 27, "open"],
        "times away from the previous",
    ),
    "bar_range": (_set(28, "high", 1e11), ["bars", 28, "high"], "at most 10 times within an hour"),
    # a crypto pair's 24/7 bars sent under a stock ticker
    "round_the_clock_stock": (
        lambda b: b.update(symbol="AAPL"),
        ["symbol"],
        "AAPL is a stock",
    ),
}


def _bad(body: dict, kind: str) -> dict:
    """A copy of a valid /predict body broken in one way."""
    bad = copy.deepcopy(body)
    BAD_INPUTS[kind][0](bad)
    return bad


@pytest.mark.parametrize("kind", BAD_INPUTS)
def test_bad_input_gets_400_naming_the_field_and_the_reason(service, btc_body, kind):
    status, body = service.post("/predict", _bad(btc_body, kind))
    assert status == 400, body
    answer = _json(body)
    _, field, reason = BAD_INPUTS[kind]
    matching = [d for d in answer["detail"] if d["loc"] == field]
    assert matching, f"no error at {field}: {answer}"
    assert any(reason in d["msg"] for d in matching), answer


def test_a_bad_symbol_in_a_batch_is_named_by_its_position(service, btc_body):
    bad = _bad(btc_body, "high_below_low")
    status, body = service.post("/predict_batch", {"requests": [btc_body, bad]})
    assert status == 400
    locs = [d["loc"] for d in _json(body)["detail"]]
    assert ["requests", 1, "bars", 19, "high"] in locs


def test_oversized_not_json_and_malformed_bodies_are_rejected(service, btc_body):
    declared = {"Content-Type": "application/json"}
    too_long = {**declared, "Content-Length": str(LIMITS.max_request_bytes + 1)}
    status, body = raw_request(service.url, "/predict", b"", too_long)
    assert status == 413 and _json(body)["detail"][0]["loc"] == ["body"]
    payload = json.dumps(btc_body).encode()
    csv = {"Content-Type": "text/csv", "Content-Length": str(len(payload))}
    status, body = raw_request(service.url, "/predict", payload, csv)
    assert status == 415 and _json(body)["detail"][0]["loc"] == ["header", "content-type"]
    status, body = service.post("/predict", b'{"symbol": "BTC-USD", "bars": [')
    assert status == 400 and "JSON" in _json(body)["detail"][0]["msg"]


def _metrics(service) -> dict[str, float]:
    status, body = service.get("/metrics")
    assert status == 200
    return metric_samples(body.decode())


def test_metrics_move_after_requests(service, btc_body):
    before = _metrics(service)
    assert service.post("/predict", btc_body)[0] == 200
    assert service.post("/predict", _bad(btc_body, "unordered"))[0] == 400
    after = _metrics(service)

    def moved(name: str) -> float:
        return after[name] - before.get(name, 0.0)

    assert moved('rps_predictions_total{outcome="ok"}') == 1
    assert moved('rps_predictions_total{outcome="invalid"}') == 1
    assert moved('rps_predictions_total{outcome="error"}') == 0
    assert moved("rps_inference_latency_seconds_count") == 1
    assert 'rps_inference_latency_seconds_bucket{le="0.5"}' in after
    for target in ("log_return", "volatility"):
        assert moved(f'rps_prediction_value_count{{target="{target}"}}') == 1
    builtin = 'bentoml_service_request_total{{endpoint="/predict",http_response_code="{}"'
    for code in ("200", "400"):
        key = next(k for k in after if k.startswith(builtin.format(code)))
        assert moved(key) == 1
    assert after['rps_model_info{alias="champion",version="1"}'] == 1
    features = {k for k in after if k.startswith("rps_feature_out_of_range_total{")}
    names = feature_columns(project_parameters()["features"])
    assert features == {f'rps_feature_out_of_range_total{{feature="{n}"}}' for n in names}
    assert 0 <= after["rps_drift_ratio"] <= 1


def _truncated_upload(url: str, sent: bytes, announced: int) -> None:
    """A client that announces `announced` bytes, sends `sent`, then leaves."""
    parsed = urllib.parse.urlsplit(url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as connection:
        head = (
            "POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            f"Content-Length: {announced}\r\n\r\n"
        )
        connection.sendall(head.encode() + sent)


def test_clients_that_leave_mid_upload_are_aborts_not_server_errors(service, btc_body):
    before = _metrics(service)
    payload = json.dumps(btc_body).encode()
    for _ in range(5):
        _truncated_upload(service.url, payload[:100], len(payload))

    def aborted() -> dict | None:
        after = _metrics(service)
        moved = after['rps_predictions_total{outcome="aborted"}'] - before.get(
            'rps_predictions_total{outcome="aborted"}', 0
        )
        return after if moved == 5 else None

    after = wait_until(aborted, timeout=30, what="five aborted uploads counted")
    for outcome in ("error", "invalid"):
        key = f'rps_predictions_total{{outcome="{outcome}"}}'
        assert after[key] == before[key]
    server_errors = [k for k in after if 'http_response_code="5' in k and "/predict" in k]
    assert all(after[k] == before.get(k, 0) for k in server_errors), server_errors
    assert "ClientDisconnect" not in service.server.log_path.read_text()


def test_the_model_age_counts_from_the_end_of_its_training_data(service, trained_model):
    data_end = trained_model.bars["timestamp"].max() + pd.Timedelta(hours=1)
    age = _metrics(service)["rps_model_age_seconds"]
    # refreshed every serving.model.age_update_seconds (15 s) and at each load
    assert 0 <= (pd.Timestamp.now(tz="UTC") - data_end).total_seconds() - age <= 60
    assert _metrics(service)['rps_model_updates_total{outcome="swapped"}'] == 0  # a Bento's model


def _regime_shifted_bodies(trained_model, count: int) -> list[dict]:
    """Requests of BTC-USD bars after a volatility and price regime shift of the simulator that
    made the training data (conf/base/catalog.yml's market_source, same seed and origin)."""
    source = yaml.safe_load((trained_model.conf / "base/catalog.yml").read_text())["market_source"]
    shift_at = pd.Timestamp(SIMULATOR_END) + pd.Timedelta(days=2)
    simulator = SimulatedMarketDataset(
        seed=source["seed"],
        origin=source["origin"],
        end=str(shift_at + pd.Timedelta(hours=48 + count)),
        backfill_hours=LOOKBACK + 48 + count,
        regime_shift={"at": str(shift_at), "volatility_multiplier": 4.0, "price_jump": 0.2},
    )
    bars = simulator.fetch("BTC-USD")
    ends = range(len(bars) - count + 1, len(bars) + 1)
    return [predict_body("BTC-USD", bars.iloc[end - LOOKBACK : end]) for end in ends]


def test_drift_ratio_rises_when_regime_shifted_bars_are_sent(service, trained_model):
    normal = [
        predict_body("BTC-USD", trained_model.recent_bars("BTC-USD", LOOKBACK, end=1500 + i))
        for i in range(TEST_DRIFT_WINDOW)
    ]
    for body in normal:
        assert service.post("/predict", body)[0] == 200
    calm = _metrics(service)
    shifted_answers = []
    for body in _regime_shifted_bodies(trained_model, TEST_DRIFT_WINDOW):
        status, answer = service.post("/predict", body)
        assert status == 200, answer
        shifted_answers.append(_json(answer)["out_of_range_share"])
    drifted = _metrics(service)
    assert calm["rps_drift_ratio"] < 0.1 < drifted["rps_drift_ratio"]
    assert drifted["rps_drift_ratio"] == pytest.approx(np.mean(shifted_answers))
    out_of_range = sum(
        drifted[k] - calm[k] for k in drifted if k.startswith("rps_feature_out_of_range_total{")
    )
    assert out_of_range > 0


def test_lookback_matches_the_features_parameters():
    assert required_lookback(project_parameters()["features"]) == LOOKBACK


def test_many_bad_bars_get_a_short_answer_and_no_traceback_in_the_log(service, btc_body):
    bad = copy.deepcopy(btc_body)
    for bar in bad["bars"]:
        bar["high"] = LIMITS.max_price * 10
    status, body = service.post("/predict", bad)
    assert status == 400
    detail = _json(body)["detail"]
    assert len(detail) == LIMITS.max_reported_errors + 1
    assert (
        detail[-1]["msg"]
        == f"{len(bad['bars']) - LIMITS.max_reported_errors} more errors like these"
    )
    assert "Traceback" not in service.server.log_tail(400)


def test_get_forecast_answers_the_scheduled_forecast_like_predict(service, trained_model):
    """The forecast pipeline's nodes run on the project's champion bundle and primary bars;
    GET /forecast/{symbol} answers that forecast, equal to /predict on the same latest bars."""
    forecasts = forecast_next_hour(
        trained_model.champion_bundle(),
        trained_model.bars,
        ["BTC-USD", "AAPL"],
        project_parameters()["forecast"]["fallback"],
    )
    path = trained_model.project / settings().forecasts.path  # the service's working directory
    LatestForecastsDataset(str(path)).save(latest_forecasts(forecasts, SimulatedMarketDataset()))

    status, body = service.get("/forecast/BTC-USD")
    assert status == 200, body
    scheduled = _json(body)
    status, body = service.post(
        "/predict", predict_body("BTC-USD", trained_model.recent_bars("BTC-USD", BARS_SENT))
    )
    answered = _json(body)
    assert scheduled["timestamp"] == answered["timestamp"]
    for column in COMPARED:
        assert scheduled[column] == pytest.approx(answered[column], rel=1e-12), column
    assert scheduled["model_version"] == answered["model_version"]
    assert scheduled["data_source"] == answered["data_source"] == "simulated"
    assert 0 <= scheduled["age_seconds"] < 600

    status, body = service.get("/forecast/DOGE-USD")
    assert status == 404 and "BTC-USD" in _json(body)["detail"][0]["msg"]
