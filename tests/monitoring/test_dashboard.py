"""The Grafana provisioning and dashboard: the panels the issue asks for, each with PromQL that a
live Prometheus evaluates without error and, fed by the stand-in exporter, with data."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.support.dashboards import (
    DATASOURCES_DIR,
    dashboard_files,
    evaluate_panels,
    load_dashboard,
    panel_queries,
    panels,
    resolve_variables,
    template_variables,
)
from tests.support.servers import MONITORING_DIR

DASHBOARD = MONITORING_DIR / "grafana/dashboards/rps-service.json"
PROVIDERS = MONITORING_DIR / "grafana/provisioning/dashboards/rps-kedro.yml"

# What the issue asks the dashboard to show: a pattern every such panel's queries must contain.
REQUIRED = {
    "request rate": r"rate\(bentoml_service_request_total\{",
    "error rate": r'http_response_code=~"5\.\."',
    "request latency p50": r"histogram_quantile\(0\.5, .*bentoml_service_request_duration_seconds_bucket",
    "request latency p95": r"histogram_quantile\(0\.95, .*bentoml_service_request_duration_seconds_bucket",
    "request latency p99": r"histogram_quantile\(0\.99, .*bentoml_service_request_duration_seconds_bucket",
    "inference latency": r"histogram_quantile\(0\.95, .*rps_inference_latency_seconds_bucket",
    "drift ratio": r"^rps_drift_ratio\{",
    "drift threshold": r"^rps:drift_ratio:threshold$",
    "out-of-range by feature": r"sum by \(feature\) \(increase\(rps_feature_out_of_range_total",
    "prediction distribution": r"rps_prediction_value_bucket\{",
    "model version": r"^rps_model_info\{",
    "firing alerts": r'^ALERTS\{alertstate="firing"\}$',
    "live skill vs baselines": r'^rps_live_skill\{window="7d"\}$',
    "scored forecasts per hour": r"rps_live_scored_forecasts\{",
    "unscored share": r"rps_live_unscored_share\{",
    "scheduled forecast age": r"time\(\) - .*rps_live_newest_forecast_timestamp_seconds",
    "live skill per target": r'avg by \(target, model_version\) \(rps_live_skill\{window="7d"\}\)',
    "test skill per target": r"max by \(target, model_version\) \(rps_model_test_skill\)",
}


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return load_dashboard(DASHBOARD)


def datasource_uids() -> set[str]:
    uids = set()
    for path in DATASOURCES_DIR.glob("*.yml"):
        uids |= {d["uid"] for d in yaml.safe_load(path.read_text())["datasources"]}
    return uids


def test_the_dashboard_is_the_only_one_and_is_provisioned(dashboard):
    assert dashboard_files() == [DASHBOARD]
    assert dashboard["uid"] == "rps-service"
    (provider,) = yaml.safe_load(PROVIDERS.read_text())["providers"]
    assert provider["type"] == "file"
    compose = yaml.safe_load((MONITORING_DIR / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in mounts


def test_every_panel_queries_the_provisioned_prometheus(dashboard):
    uids = datasource_uids()
    assert uids == {"prometheus"}
    all_panels = list(panels(dashboard))
    assert len({p["id"] for p in all_panels}) == len(all_panels), "duplicate panel ids"
    for panel in all_panels:
        assert panel.get("targets"), f"{panel['title']}: no query"
        assert panel["datasource"]["uid"] in uids, panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), f"{panel['title']} {target['refId']}: empty expr"
            assert target["datasource"]["uid"] in uids, panel["title"]
    for variable in template_variables(dashboard):
        assert variable["datasource"]["uid"] in uids, variable["name"]


@pytest.mark.parametrize("what", REQUIRED)
def test_the_issue_panels_are_there(dashboard, what):
    exprs = [query.expr for query in panel_queries(dashboard)]
    assert any(re.search(REQUIRED[what], expr) for expr in exprs), what


def test_latency_panels_draw_the_500_ms_line(dashboard):
    latency = [p for p in panels(dashboard) if "latency" in p["title"].lower()]
    assert len(latency) == 2
    for panel in latency:
        defaults = panel["fieldConfig"]["defaults"]
        assert defaults["unit"] == "s"
        assert 0.5 in [step["value"] for step in defaults["thresholds"]["steps"]], panel["title"]
        assert defaults["custom"]["thresholdsStyle"]["mode"] != "off", panel["title"]


@pytest.mark.integration
def test_every_panel_query_evaluates_with_data_on_a_live_prometheus(dashboard, standin_stack):
    """Each query, rendered like Grafana would (intervals, $target), runs on Prometheus without
    error and returns finite data from the stand-in's traffic (ALERTS: once the drift alert
    fires)."""
    prometheus = standin_stack.prometheus
    prometheus.wait_for_samples('ALERTS{alertstate="firing"}', timeout=30)
    prometheus.wait_for_samples(
        "histogram_quantile(0.5, sum by (le) (rate(rps_inference_latency_seconds_bucket[1m])))"
    )
    assert resolve_variables(dashboard, prometheus)["target"] in {"log_return", "volatility"}
    outcome = evaluate_panels(dashboard, prometheus)
    assert len(outcome) == len(panel_queries(dashboard))
    failures = [f"{query}: {problem}" for query, problem in outcome.items() if problem]
    assert not failures, "\n".join(failures)


@pytest.mark.integration
def test_a_broken_query_is_reported_not_hidden(standin_stack):
    """The evaluation catches PromQL errors and empty answers (so the test above can fail)."""
    broken = {
        "title": "broken",
        "panels": [
            {"id": 1, "title": "syntax", "targets": [{"refId": "A", "expr": "sum(rate(x[1m])"}]},
            {"id": 2, "title": "absent", "targets": [{"refId": "A", "expr": "no_such_metric"}]},
        ],
    }
    problems = list(evaluate_panels(broken, standin_stack.prometheus).values())
    assert problems[0].startswith("error: ") and "parse error" in problems[0]
    assert problems[1].startswith("no data")
