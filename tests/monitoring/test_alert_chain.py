"""The alerting chain with real servers: Prometheus (the real rules, `for:` shortened) scrapes a
stand-in exporter whose drift ratio is 0.5; the drift alert fires, Alertmanager (the real routing)
sends it to the project's receiver, which writes it to its JSON-lines file; it resolves the same
way. This tests the monitoring configuration's wiring, not the service."""

from __future__ import annotations

import pytest

from tests.monitoring.conftest import STANDIN_DRIFT_RATIO
from tests.support.servers import wait_until

pytestmark = pytest.mark.integration


def test_prometheus_loads_the_rules_and_scrapes_the_service_job(standin_stack, standin_exporter):
    groups = standin_stack.prometheus.rule_groups()
    alerts = {r["name"] for g in groups for r in g["rules"] if r["type"] == "alerting"}
    assert alerts == {
        "RpsServiceDown",
        "RpsHighErrorRate",
        "RpsInferenceLatencyHigh",
        "RpsDriftRatioHigh",
        "RpsModelStale",
        "RpsLiveSkillBelowBaseline",
        "RpsForecastsNotScored",
        "RpsStaleForecast",
    }
    assert all(r["health"] == "ok" for g in groups for r in g["rules"])
    jobs = {t["labels"]["job"]: t["labels"]["instance"] for t in standin_stack.prometheus.targets()}
    assert jobs["rps_service"] == standin_exporter.address
    assert {"prometheus", "alertmanager"} <= set(jobs)


def test_the_drift_alert_reaches_the_receivers_file_and_resolves(standin_stack, standin_exporter):
    alert = standin_stack.wait_for_alert("RpsDriftRatioHigh", "firing", timeout=30)
    assert alert["receiver"] == "rps-webhook"
    assert alert["labels"] == {
        "alertname": "RpsDriftRatioHigh",
        "severity": "warning",
        "job": "rps_service",
        "instance": standin_exporter.address,
        "project": "rps-kedro",  # prometheus.yml's external label
    }
    assert alert["annotations"]["summary"] == (
        f"drift ratio {STANDIN_DRIFT_RATIO:.0%} on {standin_exporter.address} is above the threshold"
    )
    assert "Out-of-range count by feature" in alert["annotations"]["description"]
    assert alert["generatorURL"].startswith(standin_stack.prometheus.url)

    # Healthy traffic otherwise: no other alert fires.
    firing = {
        a["labels"]["alertname"]
        for a in standin_stack.prometheus.alerts()
        if a["state"] in ("firing", "pending")
    }
    assert firing == {"RpsDriftRatioHigh"}

    standin_exporter.set_drift_ratio(0.02)
    try:
        resolved = standin_stack.wait_for_alert("RpsDriftRatioHigh", "resolved", timeout=30)
        assert resolved["fingerprint"] == alert["fingerprint"]
    finally:
        standin_exporter.set_drift_ratio(STANDIN_DRIFT_RATIO)
    wait_until(
        lambda: standin_stack.prometheus.query('ALERTS{alertstate="firing"}')["result"],
        timeout=30,
        what="the drift alert firing again",
    )


def test_live_skill_below_its_baseline_reaches_the_receivers_file(standin_stack, standin_exporter):
    """Live scoring's gauges (as pushed to the Pushgateway): a served forecast that trails its
    baseline over 7 days pages, with the symbol, target and model version."""
    skill = standin_exporter.metrics.live_skill.labels(
        symbol="BTC-USD", model_version="3", window="7d", target="volatility"
    )
    skill.set(-0.1)
    try:
        alert = standin_stack.wait_for_alert("RpsLiveSkillBelowBaseline", "firing", timeout=30)
        labels = alert["labels"]
        assert (labels["symbol"], labels["target"], labels["model_version"]) == (
            "BTC-USD",
            "volatility",
            "3",
        )
        assert "skill -0.100" in alert["annotations"]["summary"]
    finally:
        skill.set(0.02)
    standin_stack.wait_for_alert("RpsLiveSkillBelowBaseline", "resolved", timeout=30)
