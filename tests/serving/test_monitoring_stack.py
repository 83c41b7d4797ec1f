"""Issue 7's integration test with the REAL service: `bentoml serve` of the champion, Prometheus
(1 s scrape, the real rules with `for:` shortened), the Pushgateway and Alertmanager with the
project's webhook receiver. Regime-shifted bars raise the drift ratio until the drift alert fires
and lands in the receiver's file. Then the live loop: the service's prediction log and a
scheduled forecast are scored by the live scoring nodes and pushed through the Pushgateway, and
every dashboard panel's PromQL is evaluated with data against the live Prometheus."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog

from rps_kedro.pipelines.forecast.nodes import forecast_next_hour, prediction_log_partition
from rps_kedro.pipelines.live_scoring.nodes import (
    collect_predictions,
    live_metric_samples,
    live_metrics,
    score_predictions,
)
from rps_kedro.serving.settings import settings
from tests.conftest import PROJECT_ROOT, project_parameters
from tests.serving.conftest import TEST_DRIFT_WINDOW
from tests.serving.support import project_registry
from tests.serving.test_service import LOOKBACK, _regime_shifted_bodies
from tests.support.dashboards import evaluate_panels, load_dashboard
from tests.support.servers import (
    MONITORING_DIR,
    require_binaries,
    running_monitoring_stack,
    wait_until,
)
from tools.replay_traffic import predict_body

pytestmark = pytest.mark.integration

DASHBOARD = MONITORING_DIR / "grafana/dashboards/rps-service.json"


def _live_catalog(project, pushgateway_url: str) -> DataCatalog:
    """The project's prediction log (in the project copy the service writes to), Pushgateway and
    test skill datasets, as conf/base/catalog.yml declares them."""
    entries = yaml.safe_load((PROJECT_ROOT / "conf/base/catalog.yml").read_text())
    log = {**entries["prediction_log"], "path": str(project / settings().prediction_log.directory)}
    push = {**entries["live_metrics_pushgateway"], "url": pushgateway_url}
    return DataCatalog.from_config(
        {
            "prediction_log": log,
            "live_metrics_pushgateway": push,
            "model_test_skill": entries["model_test_skill"],
        }
    )


def _scheduled_forecast(trained_model, catalog: DataCatalog) -> None:
    """The forecast pipeline's nodes on the project's champion, logged like the hourly run."""
    fallback = project_parameters()["forecast"]["fallback"]
    forecasts = forecast_next_hour(
        trained_model.champion_bundle(), trained_model.bars, ["BTC-USD"], fallback
    )
    catalog.save("prediction_log", prediction_log_partition(forecasts, {"index": 0, "count": 1}))


def _score_and_push(trained_model, catalog: DataCatalog, since: datetime) -> pd.DataFrame:
    """Live scoring of the log once this test's requests are in it; the samples pushed."""
    params = {
        **project_parameters()["live_scoring"],
        "as_of": str(trained_model.bars["timestamp"].max() + pd.Timedelta(hours=1)),
    }

    def logged() -> list[pd.DataFrame] | None:
        forecasts = collect_predictions(catalog.load("prediction_log"), params)
        mine = forecasts.loc[forecasts["served_at"] >= since] if len(forecasts) else forecasts
        return [forecasts] if len(mine) >= TEST_DRIFT_WINDOW else None

    [forecasts] = wait_until(logged, timeout=60, what="this test's forecasts in the log")
    scored = score_predictions(forecasts, trained_model.bars, params)
    with project_registry(trained_model.project):
        test_skill = catalog.load("model_test_skill")
    samples = live_metric_samples(live_metrics(scored, params), scored, test_skill)
    catalog.save("live_metrics_pushgateway", samples)
    return scored


def test_drift_alert_fires_from_the_live_service_and_every_panel_has_data(
    service, trained_model, tmp_path
):
    require_binaries("prometheus", "alertmanager", "pushgateway")
    target = service.url.removeprefix("http://")
    since = datetime.now(UTC)
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

        catalog = _live_catalog(trained_model.project, stack.pushgateway_url)
        _scheduled_forecast(trained_model, catalog)
        scored = _score_and_push(trained_model, catalog, since)
        assert (scored["status"] == "scored").sum() >= TEST_DRIFT_WINDOW - 1  # end=0: pending
        stack.prometheus.wait_for_samples('rps_live_skill{job="rps_live_scoring", window="7d"}')
        stack.prometheus.wait_for_samples("rps_live_newest_forecast_timestamp_seconds")
        stack.prometheus.wait_for_samples('rps_model_test_skill{target="volatility"}')

        outcome = evaluate_panels(load_dashboard(DASHBOARD), stack.prometheus, window=60)
        problems = [f"{query}: {problem}" for query, problem in outcome.items() if problem]
        assert not problems, "\n".join(problems)
