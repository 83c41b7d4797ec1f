"""`python -m rps_kedro.retraining` over HTTP: Alertmanager notifications in, DAG runs started on
a local server replaying Airflow's recorded answers, every decision counted on /metrics, and the
token nowhere in its log."""

from __future__ import annotations

import json

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.retraining.test_trigger import DAG_RUNS, TOKEN, alert, recorded
from tests.support.servers import http_request, running_retrain_trigger, wait_until


def decisions(url: str) -> dict[tuple[str, str], float]:
    """rps_retrain_requests_total by (alertname, outcome), from the trigger's /metrics."""
    status, body = http_request(f"{url}/metrics")
    assert status == 200
    return {
        (sample.labels["alertname"], sample.labels["outcome"]): sample.value
        for family in text_string_to_metric_families(body.decode())
        if family.name == "rps_retrain_requests"
        for sample in family.samples
        if sample.name == "rps_retrain_requests_total"
    }


@pytest.fixture
def trigger(httpserver_ipv4, tmp_path):
    with running_retrain_trigger(
        tmp_path, airflow_url=httpserver_ipv4.url_for("").rstrip("/"), credentials={"token": TOKEN}
    ) as server:
        yield server


def test_a_notification_starts_one_run_and_every_decision_is_counted(httpserver_ipv4, trigger):
    httpserver_ipv4.expect_request(
        DAG_RUNS, method="POST", headers={"Authorization": f"Bearer {TOKEN}"}
    ).respond_with_json(recorded("dag_run_triggered.json"))
    notification = {
        "version": "4",
        "status": "firing",
        "receiver": "rps-retrain",
        "alerts": [
            alert(),
            alert(),  # the same episode twice (Alertmanager resends a group's alerts)
            alert("RpsLiveSkillBelowBaseline", fingerprint="c3d4"),  # inside the cooldown
            alert(status="resolved", fingerprint="e5f6"),
            alert("RpsServiceDown", fingerprint="0708"),
        ],
    }
    status, body = http_request(f"{trigger.url}/alerts", notification)
    assert (status, json.loads(body)) == (202, {"queued": 5})

    expected = {
        ("RpsDriftRatioHigh", "triggered"): 1,
        ("RpsDriftRatioHigh", "duplicate"): 1,
        ("RpsLiveSkillBelowBaseline", "cooldown"): 1,
        ("RpsDriftRatioHigh", "resolved"): 1,
        ("RpsServiceDown", "ignored"): 1,
    }

    def counted() -> dict | None:
        found = {key: value for key, value in decisions(trigger.url).items() if value}
        return found if found == expected else None

    wait_until(counted, timeout=30, what="the five decisions on /metrics")
    [(request, _)] = httpserver_ipv4.log
    assert request.get_json()["conf"]["alert"]["alertname"] == "RpsDriftRatioHigh"
    log = trigger.log_path.read_text()
    assert "retrain triggered for RpsDriftRatioHigh" in log
    assert TOKEN not in log


def test_a_malformed_notification_is_a_400_with_the_reason(trigger):
    status, body = http_request(f"{trigger.url}/alerts", {"status": "firing"})
    assert status == 400
    assert "no `alerts` list" in json.loads(body)["error"]
    every_series_at_zero = decisions(trigger.url)
    assert every_series_at_zero[("RpsDriftRatioHigh", "triggered")] == 0
