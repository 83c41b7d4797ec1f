"""Issue 7's integration test with the REAL service: `bentoml serve` of the champion, Prometheus
(1 s scrape, the real rules with `for:` shortened) and Alertmanager with the project's webhook
receiver. Regime-shifted bars raise the drift ratio until the drift alert fires and lands in the
receiver's file; then every dashboard panel's PromQL is evaluated against the live Prometheus."""

from __future__ import annotations

import pytest

from tests.serving.conftest import TEST_DRIFT_WINDOW
from tests.serving.support import predict_body
from tests.serving.test_service import LOOKBACK, _regime_shifted_bodies
from tests.support.dashboards import evaluate_panels, load_dashboard
from tests.support.servers import MONITORING_DIR, require_binaries, running_monitoring_stack

pytestmark = pytest.mark.integration

DASHBOARD = MONITORING_DIR / "grafana/dashboards/rps-service.json"
# The live accuracy panels show what live scoring pushes to the Pushgateway, not the service's
# own metrics: here they must evaluate without error; tests/monitoring/test_dashboard.py checks
# them with data (the stand-in exposes them).
BATCH_METRICS = "rps_live_"


def test_drift_alert_fires_from_the_live_service_and_every_panel_has_data(
    service, trained_model, tmp_path
):
    require_binaries("prometheus", "alertmanager")
    target = service.url.removeprefix("http://")
    with running_monitoring_stack(tmp_path, service_target=target) as stack:
        [scraped] = [
            t for t in stack.prometheus.wait_for_targets_up() if t["labels"]["job"] == "rps_service"
        ]
        assert scraped["labels"]["instance"] == target
        for end in range(TEST_DRIFT_WINDOW):
            body = predict_body("BTC-USD", trained_model.recent_bars("BTC-USD", LOOKBACK, end=end))
            assert service.post("/predict", body)[0] == 200
        assert service.post("/predict", {"symbol": "BTC-USD", "bars": []})[0] == 400
        for body in _regime_shifted_bodies(trained_model, TEST_DRIFT_WINDOW):
            assert service.post("/predict", body)[0] == 200

        alert = stack.wait_for_alert("RpsDriftRatioHigh", "firing", timeout=90)
        assert alert["labels"]["instance"] == target
        assert alert["labels"]["severity"] == "warning"
        assert "drift ratio" in alert["annotations"]["summary"]
        stack.prometheus.wait_for_samples("rps_drift_ratio > 0.1")

        outcome = evaluate_panels(load_dashboard(DASHBOARD), stack.prometheus, window=60)
        problems = [
            f"{query}: {problem}"
            for query, problem in outcome.items()
            if problem and not (problem.startswith("no data") and BATCH_METRICS in query.expr)
        ]
        assert not problems, "\n".join(problems)
