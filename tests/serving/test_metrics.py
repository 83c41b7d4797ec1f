"""The service's metric objects: names, labels and buckets that monitoring/ reads."""

from __future__ import annotations

from rps_kedro.serving.metrics import OUTCOMES, ServiceMetrics
from rps_kedro.serving.settings import load_settings
from tests.conftest import PROJECT_ROOT
from tests.serving.support import metric_samples


def _samples(metrics: ServiceMetrics) -> dict[str, float]:
    # Imported here, not at collection (see tests/monitoring/conftest.py).
    from prometheus_client import generate_latest  # noqa: PLC0415

    return metric_samples(generate_latest(metrics.registry).decode())


def test_every_series_exists_from_the_start():
    metrics = ServiceMetrics(load_settings(PROJECT_ROOT / "conf", env="base").metrics)
    metrics.model_loaded("3", "champion", ["log_return", "rsi_14"])
    samples = _samples(metrics)
    for outcome in OUTCOMES:
        assert samples[f'rps_predictions_total{{outcome="{outcome}"}}'] == 0
    for feature in ("log_return", "rsi_14"):
        assert samples[f'rps_feature_out_of_range_total{{feature="{feature}"}}'] == 0
    assert samples['rps_inference_latency_seconds_bucket{le="0.5"}'] == 0
    assert samples['rps_prediction_value_count{target="log_return"}'] == 0
    assert samples['rps_clipped_predictions_total{target="volatility"}'] == 0
    assert samples['rps_model_info{alias="champion",version="3"}'] == 1
    assert samples["rps_drift_ratio"] == 0


def test_a_prediction_moves_its_series():
    metrics = ServiceMetrics(load_settings(PROJECT_ROOT / "conf", env="base").metrics)
    metrics.inference(0.7)
    metrics.predicted(
        {
            "predicted_log_return": 0.001,
            "predicted_volatility": 0.004,
            "out_of_range_features": ["rsi_14"],
            "clipped_targets": ["volatility"],
        }
    )
    metrics.rejected("invalid", 2)
    samples = _samples(metrics)
    assert samples['rps_inference_latency_seconds_bucket{le="0.5"}'] == 0
    assert samples['rps_inference_latency_seconds_bucket{le="1.0"}'] == 1
    assert samples['rps_predictions_total{outcome="ok"}'] == 1
    assert samples['rps_predictions_total{outcome="invalid"}'] == 2
    assert samples['rps_feature_out_of_range_total{feature="rsi_14"}'] == 1
    assert samples['rps_prediction_value_count{target="volatility"}'] == 1
    assert samples['rps_clipped_predictions_total{target="volatility"}'] == 1
    assert samples['rps_clipped_predictions_total{target="log_return"}'] == 0
