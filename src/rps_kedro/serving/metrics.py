"""The service's own Prometheus metrics, with prometheus_client (not the deprecated
bentoml.metrics), next to BentoML's built-in `bentoml_service_request_*`.

Under `bentoml serve` every worker process writes its samples to PROMETHEUS_MULTIPROC_DIR and
GET /metrics on any worker aggregates all of them: counters and histograms are summed across
workers, the gauges use a multiprocess mode that does not add a `pid` label. Names and labels
are what monitoring/ (alert rules, Grafana dashboard) reads:

- rps_inference_latency_seconds            histogram, a bucket boundary at exactly 0.5 s
- rps_predictions_total{outcome}           ok (per symbol predicted), invalid, unavailable, error,
                                           aborted (the client left mid-upload)
- rps_feature_out_of_range_total{feature}  every model feature present from the start, at 0
- rps_drift_ratio                          mean out-of-range share of the last N requests
- rps_prediction_value{target}             log_return and volatility predictions
- rps_clipped_predictions_total{target}    learned forecasts clipped to the training range
- rps_model_info{version, alias}           1 for the served model (0 for one swapped out)
- rps_fallback_predictions_total           answered with the baseline (too far out of range)
- rps_model_age_seconds                    since the end of the served model's training data
- rps_model_updates_total{outcome}         following the registry: swapped, load_failed,
                                           registry_error

prometheus_client is imported when the metrics are created (in the worker), not at module
import, so a process can still choose its multiprocess mode before that.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from rps_kedro.serving.settings import MetricSettings

OUTCOMES = ("ok", "invalid", "unavailable", "error", "aborted")
UPDATE_OUTCOMES = ("swapped", "load_failed", "registry_error")
TARGETS = {"log_return": "predicted_log_return", "volatility": "predicted_volatility"}


class ServiceMetrics:
    """The metric objects of one process (registered in their own registry)."""

    def __init__(self, settings: MetricSettings, registry: Any = None):
        from prometheus_client import (  # noqa: PLC0415 (see the module docstring)
            CollectorRegistry,
            Counter,
            Gauge,
            Histogram,
        )

        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.inference_latency = Histogram(
            "rps_inference_latency_seconds",
            "Model time of a prediction request: features and forecaster, per request",
            buckets=settings.inference_latency_buckets,
            registry=r,
        )
        self.predictions = Counter(
            "rps_predictions_total",
            "Predictions by outcome: ok per symbol predicted; invalid, unavailable and error"
            " per rejected or failed request; aborted per request whose client left mid-upload",
            ["outcome"],
            registry=r,
        )
        self.out_of_range = Counter(
            "rps_feature_out_of_range_total",
            "Predictions whose feature was outside the model's drift reference bounds",
            ["feature"],
            registry=r,
        )
        self.drift_ratio = Gauge(
            "rps_drift_ratio",
            "Mean share of out-of-range features over a sliding window of recent requests",
            multiprocess_mode="livemostrecent",
            registry=r,
        )
        self.prediction_value = Histogram(
            "rps_prediction_value",
            "Predicted values by target (next-hour log return, next-hour volatility)",
            ["target"],
            buckets=settings.prediction_value_buckets,
            registry=r,
        )
        self.clipped = Counter(
            "rps_clipped_predictions_total",
            "Predictions whose learned forecast was clipped to the range seen in training",
            ["target"],
            registry=r,
        )
        self.model_info = Gauge(
            "rps_model_info",
            "The served registered model (value 1): version and registry alias",
            ["version", "alias"],
            multiprocess_mode="livemax",
            registry=r,
        )
        self.fallbacks = Counter(
            "rps_fallback_predictions_total",
            "Predictions answered with the baseline's forecast: too many features out of range",
            registry=r,
        )
        self.model_age = Gauge(
            "rps_model_age_seconds",
            "Seconds since the end of the data the served model was trained on",
            multiprocess_mode="livemax",
            registry=r,
        )
        self.model_updates = Counter(
            "rps_model_updates_total",
            "New registry versions seen while following the alias, by outcome",
            ["outcome"],
            registry=r,
        )
        for outcome in UPDATE_OUTCOMES:
            self.model_updates.labels(outcome=outcome)
        for outcome in OUTCOMES:
            self.predictions.labels(outcome=outcome)
        for target in TARGETS:
            self.prediction_value.labels(target=target)
            self.clipped.labels(target=target)
        self.drift_ratio.set(0.0)

    def model_loaded(
        self, version: str, alias: str, features: Iterable[str], replaced: str | None = None
    ) -> None:
        """Announce the served model (the one it replaced at 0) and create each feature's
        out-of-range series at 0."""
        if replaced is not None and replaced != version:
            self.model_info.labels(version=replaced, alias=alias).set(0)
        self.model_info.labels(version=version, alias=alias).set(1)
        for feature in features:
            self.out_of_range.labels(feature=feature)

    def rejected(self, outcome: str, count: int = 1) -> None:
        self.predictions.labels(outcome=outcome).inc(count)

    def inference(self, seconds: float) -> None:
        """One request's model time (the model call that computed it, batched or not)."""
        self.inference_latency.observe(seconds)

    def predicted(self, prediction: dict[str, Any]) -> None:
        """Count one answered symbol: its predicted values and out-of-range features."""
        self.predictions.labels(outcome="ok").inc()
        for target, field in TARGETS.items():
            self.prediction_value.labels(target=target).observe(prediction[field])
        for feature in prediction["out_of_range_features"]:
            self.out_of_range.labels(feature=feature).inc()
        for target in prediction["clipped_targets"]:
            self.clipped.labels(target=target).inc()
        if prediction.get("fallback"):
            self.fallbacks.inc()


_process_metrics: ServiceMetrics | None = None
_lock = threading.Lock()


def process_metrics(settings: MetricSettings) -> ServiceMetrics:
    """This process's metrics, created on first use (after PROMETHEUS_MULTIPROC_DIR is set)."""
    global _process_metrics  # noqa: PLW0603 (one set of metric objects per process)
    with _lock:
        if _process_metrics is None:
            _process_metrics = ServiceMetrics(settings)
        return _process_metrics
