"""A stand-in for the service's /metrics, to test the monitoring configuration on its own.

It exposes, with prometheus_client, the metric surface the serving issue specifies (names, types,
labels) and BentoML 1.4's built-in request metrics (``bentoml_service_request_*`` with labels
``endpoint, service_name, service_version, http_response_code, runner_name``, read in
``bentoml/_internal/server/http/instruments.py``), and moves them like light traffic would.
The drift ratio is whatever the test sets. It also exposes the live-scoring gauges that
`kedro run --pipelines live_scoring` pushes to the Pushgateway, at healthy values.

It tests the wiring of rules, Alertmanager, receiver and dashboard, not the service: the
integration test with the real ``bentoml serve`` replaces it (and checks the real names).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

LOCALHOST = "127.0.0.1"
BENTOML_LABELS = [
    "endpoint",
    "service_name",
    "service_version",
    "http_response_code",
    "runner_name",
]
INFERENCE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
FEATURES = ("log_return_1h", "log_return_24h", "realized_vol_24h", "volume_z_24h")
TARGETS = {"log_return": 0.01, "volatility": 0.005}
LIVE_LABELS = ["symbol", "model_version", "window"]


@dataclass
class StandinMetrics:
    """The metric objects, in their own registry."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "bentoml_service_request_total",
            "Total number of HTTP requests",
            BENTOML_LABELS,
            registry=r,
        )
        self.request_duration = Histogram(
            "bentoml_service_request_duration_seconds",
            "API HTTP request duration in seconds",
            BENTOML_LABELS,
            registry=r,
        )
        self.inference_latency = Histogram(
            "rps_inference_latency_seconds",
            "Model inference time",
            buckets=INFERENCE_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "rps_predictions_total", "Predictions by outcome", ["outcome"], registry=r
        )
        self.out_of_range = Counter(
            "rps_feature_out_of_range_total",
            "Feature values outside the drift reference",
            ["feature"],
            registry=r,
        )
        self.drift_ratio = Gauge(
            "rps_drift_ratio", "Out-of-range share over recent requests", registry=r
        )
        self.prediction_value = Histogram(
            "rps_prediction_value",
            "Predicted values",
            ["target"],
            buckets=(-0.02, -0.01, -0.005, 0.0, 0.005, 0.01, 0.02, 0.05),
            registry=r,
        )
        self.model_info = Gauge(
            "rps_model_info", "The served model", ["version", "alias"], registry=r
        )
        self.live_skill = Gauge(
            "rps_live_skill", "Live skill", [*LIVE_LABELS, "target"], registry=r
        )
        self.live_scored = Gauge(
            "rps_live_scored_forecasts", "Scored forecasts", LIVE_LABELS, registry=r
        )
        self.live_unscored = Gauge(
            "rps_live_unscored_share", "Unscored share", LIVE_LABELS, registry=r
        )
        self.newest_forecast = Gauge(
            "rps_live_newest_forecast_timestamp_seconds",
            "Newest scheduled forecast",
            ["symbol"],
            registry=r,
        )
        self.test_skill = Gauge(
            "rps_model_test_skill", "Test skill", ["model_version", "target"], registry=r
        )

    def healthy_live_scores(self) -> None:
        """What live scoring pushes for a champion that beats its baselines, fresh."""
        for window, scored in (("1d", 24), ("7d", 168)):
            labels = {"symbol": "BTC-USD", "model_version": "3", "window": window}
            for target in ("return", "volatility"):
                self.live_skill.labels(**labels, target=target).set(0.02)
            self.live_scored.labels(**labels).set(scored)
            self.live_unscored.labels(**labels).set(0.01)
        self.newest_forecast.labels(symbol="BTC-USD").set(time.time())
        for target in ("return", "volatility"):
            self.test_skill.labels(model_version="3", target=target).set(0.03)


def request_labels(code: str) -> dict[str, str]:
    return {
        "endpoint": "/predict",
        "service_name": "rps_kedro_service",
        "service_version": "standin",
        "http_response_code": code,
        "runner_name": "RpsService",
    }


class StandinExporter:
    """Serves ``StandinMetrics`` on 127.0.0.1 (a free port) and feeds them light traffic."""

    def __init__(self, drift_ratio: float = 0.0, seed: int = 7, tick_seconds: float = 0.05):
        self.metrics = StandinMetrics()
        self.metrics.drift_ratio.set(drift_ratio)
        self.metrics.model_info.labels(version="3", alias="champion").set(1)
        self.metrics.healthy_live_scores()
        for feature in FEATURES:  # every feature's series exists from the start, at 0
            self.metrics.out_of_range.labels(feature=feature)
        for code in ("200", "500"):  # as BentoML does for each route, so rate() starts at 0
            self.metrics.requests.labels(**request_labels(code))
        self._random = random.Random(seed)
        self._tick = tick_seconds
        self._stop = threading.Event()
        self._server, self._server_thread = start_http_server(
            0, addr=LOCALHOST, registry=self.metrics.registry
        )
        self.address = f"{LOCALHOST}:{self._server.server_port}"
        self._traffic = threading.Thread(target=self._run, name="standin-traffic", daemon=True)
        self._traffic.start()

    def request(self) -> None:
        """One /predict request: mostly 200, some 400 (bad input), no 5xx (healthy traffic)."""
        m, rnd = self.metrics, self._random
        code = "400" if rnd.random() < 0.08 else "200"
        labels = request_labels(code)
        m.requests.labels(**labels).inc()
        m.request_duration.labels(**labels).observe(rnd.uniform(0.002, 0.03))
        if code != "200":
            m.predictions.labels(outcome="rejected").inc()
            return
        m.inference_latency.observe(rnd.uniform(0.001, 0.02))
        m.predictions.labels(outcome="ok").inc()
        for target, scale in TARGETS.items():
            m.prediction_value.labels(target=target).observe(rnd.gauss(0, scale))
        if rnd.random() < 0.3:
            m.out_of_range.labels(feature=rnd.choice(FEATURES)).inc()

    def _run(self) -> None:
        while not self._stop.wait(self._tick):
            self.request()
            self.metrics.newest_forecast.labels(symbol="BTC-USD").set(time.time())

    def set_drift_ratio(self, value: float) -> None:
        self.metrics.drift_ratio.set(value)

    def close(self) -> None:
        self._stop.set()
        self._traffic.join(timeout=5)
        self._server.shutdown()
        self._server.server_close()
        self._server_thread.join(timeout=5)
