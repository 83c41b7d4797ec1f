"""Alert -> retrain with the real servers: Prometheus (the real rules, `for:` shortened) scrapes
the stand-in exporter whose drift ratio is high; Alertmanager (the real routing) sends the drift
alert to the file receiver and to the retrain trigger, which starts the modelling DAG on a local
server replaying Airflow's recorded answers, once, with the alert in the run's conf."""

from __future__ import annotations

import pytest

from tests.retraining.test_receiver import decisions
from tests.retraining.test_trigger import DAG_RUNS, TOKEN, recorded
from tests.support.servers import (
    require_binaries,
    running_monitoring_stack,
    running_retrain_trigger,
    wait_until,
)

pytestmark = pytest.mark.integration


def test_the_drift_alert_starts_one_modelling_run(httpserver_ipv4, standin_exporter, tmp_path):
    require_binaries("prometheus", "alertmanager", "pushgateway")
    httpserver_ipv4.expect_request(
        DAG_RUNS, method="POST", headers={"Authorization": f"Bearer {TOKEN}"}
    ).respond_with_json(recorded("dag_run_triggered.json"))
    airflow_url = httpserver_ipv4.url_for("").rstrip("/")
    with (
        running_retrain_trigger(
            tmp_path, airflow_url=airflow_url, credentials={"token": TOKEN}
        ) as trigger,
        running_monitoring_stack(
            tmp_path,
            service_target=standin_exporter.address,
            retrain_url=f"{trigger.url}/alerts",
        ) as stack,
    ):
        filed = stack.wait_for_alert("RpsDriftRatioHigh", "firing", timeout=60)
        started = wait_until(
            lambda: [r for r, _ in httpserver_ipv4.log if r.path == DAG_RUNS] or None,
            timeout=60,
            what="a modelling run started through Airflow's API",
        )
        conf = started[0].get_json()["conf"]
        assert conf["alert"]["fingerprint"] == filed["fingerprint"]
        assert conf["alert"]["labels"]["instance"] == standin_exporter.address
        # the request reaches Airflow before the trigger counts its answer: wait for the count
        wait_until(
            lambda: decisions(trigger.url)[("RpsDriftRatioHigh", "triggered")] == 1,
            timeout=30,
            what="the triggered decision on the trigger's /metrics",
        )
    assert len([r for r, _ in httpserver_ipv4.log if r.path == DAG_RUNS]) == 1
