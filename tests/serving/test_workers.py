"""Multiprocess metrics with two workers: every counter and histogram on /metrics is the sum
over both worker processes (each of which answered some of the requests)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.serving.conftest import SERVICE
from tests.serving.support import bentoml_server, metric_samples, server_home
from tests.support.servers import http_request, wait_until
from tools.replay_traffic import predict_body

pytestmark = pytest.mark.integration

WORKERS = 2
REQUESTS = 60
CLIENTS = 8
OK = 'rps_predictions_total{outcome="ok"}'


@pytest.fixture(scope="module")
def two_workers(trained_model, tmp_path_factory):
    home = server_home(trained_model.bentoml_home, tmp_path_factory.mktemp("home-2-workers"))
    with bentoml_server(
        SERVICE,
        home,
        home / "logs",
        conf_source=trained_model.conf,
        cwd=trained_model.project,
        workers=WORKERS,
    ) as server:
        yield server, home


def _per_worker_ok(multiprocess_dir: Path) -> dict[str, float]:
    """rps_predictions_total{outcome="ok"} as each worker process wrote it (its own file)."""
    from prometheus_client.mmap_dict import MmapedDict  # noqa: PLC0415

    counts = {}
    for path in multiprocess_dir.glob("counter_*.db"):
        for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path)):
            _, sample, labels, _ = json.loads(key)
            if sample == "rps_predictions_total" and labels == {"outcome": "ok"}:
                counts[path.stem] = value
    return counts


def _builtin_ok(metrics: dict[str, float]) -> list[float]:
    return [
        value
        for key, value in metrics.items()
        if key.startswith(
            'bentoml_service_request_total{endpoint="/predict",http_response_code="200"'
        )
    ]


def _all_counted(url: str) -> dict[str, float] | None:
    """/metrics once BentoML's built-in counter has every request, else None."""
    metrics = metric_samples(http_request(url + "/metrics", timeout=30)[1].decode())
    return metrics if _builtin_ok(metrics) == [REQUESTS] else None


def test_metrics_are_summed_across_two_workers(two_workers, trained_model):
    server, home = two_workers
    body = predict_body("BTC-USD", trained_model.recent_bars("BTC-USD", 170))
    with ThreadPoolExecutor(CLIENTS) as clients:  # a new connection per request
        statuses = list(
            clients.map(
                lambda _: http_request(server.url + "/predict", body, timeout=120)[0],
                range(REQUESTS),
            )
        )
    assert statuses == [200] * REQUESTS
    # BentoML counts a request once its response is sent: the last count may trail the answer.
    metrics = wait_until(
        lambda: _all_counted(server.url), timeout=30, what=f"{REQUESTS} requests on /metrics"
    )

    assert metrics[OK] == REQUESTS
    assert metrics["rps_inference_latency_seconds_count"] == REQUESTS
    assert metrics['rps_inference_latency_seconds_bucket{le="+Inf"}'] == REQUESTS
    assert metrics['rps_prediction_value_count{target="volatility"}'] == REQUESTS
    assert 'rps_clipped_predictions_total{target="volatility"}' in metrics
    # One series per gauge, whatever the number of workers (no pid label).
    assert metrics['rps_model_info{alias="champion",version="1"}'] == 1
    assert [k for k in metrics if k.startswith("rps_model_info")] == [
        'rps_model_info{alias="champion",version="1"}'
    ]
    assert [k for k in metrics if k.startswith("rps_drift_ratio")] == ["rps_drift_ratio"]

    per_worker = _per_worker_ok(home / "prometheus_multiproc_dir")
    assert len([n for n in per_worker.values() if n > 0]) == WORKERS, per_worker
    assert sum(per_worker.values()) == REQUESTS
