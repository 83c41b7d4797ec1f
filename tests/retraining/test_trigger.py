"""The retrain trigger against a local HTTP server replaying Airflow 3.3's recorded answers
(tests/fixtures/airflow): which alerts start a run, the cooldown, duplicates, resolved alerts,
Airflow's errors (retried with backoff, or refused), token renewal, and the token never logged."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from werkzeug import Response

from rps_kedro.retraining.trigger import (
    AirflowDagTrigger,
    AirflowToken,
    RetrainSettings,
    RetrainTrigger,
)

FIXTURES = Path(__file__).parents[1] / "fixtures/airflow"
DAG_RUNS = "/api/v2/dags/rps_kedro_modelling/dagRuns"
TOKEN = "test-token.0123456789abcdef"  # noqa: S105 (a test's)
START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def recorded(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def settings_for(url: str, **overrides) -> RetrainSettings:
    config = {
        "airflow": {"url": url, "dag_id": "rps_kedro_modelling", "request_timeout_seconds": 5},
        "alerts": ["RpsDriftRatioHigh", "RpsLiveSkillBelowBaseline"],
        "cooldown_minutes": 60,
        "retry": {"attempts": 3, "backoff_seconds": 2},
    }
    return RetrainSettings.from_config({**config, **overrides})


def alert(name="RpsDriftRatioHigh", status="firing", fingerprint="a1b2", starts="12:00") -> dict:
    return {
        "status": status,
        "labels": {"alertname": name, "severity": "warning", "instance": "127.0.0.1:3000"},
        "annotations": {"summary": "..."},
        "startsAt": f"2026-11-30T{starts}:00Z",
        "fingerprint": fingerprint,
    }


@pytest.fixture
def airflow(httpserver_ipv4):
    """The replay server: Airflow's api-server as far as the trigger talks to it."""
    return httpserver_ipv4


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_trigger(airflow, clock, sleeps, token=None, **overrides) -> RetrainTrigger:
    settings = settings_for(airflow.url_for("").rstrip("/"), **overrides)
    token = token or AirflowToken(settings.airflow_url, token=TOKEN)
    return RetrainTrigger(settings, AirflowDagTrigger(settings, token), clock, sleeps.append)


def test_a_firing_alert_starts_the_modelling_dag_with_the_alert_in_its_conf(airflow, clock, sleeps):
    airflow.expect_oneshot_request(
        DAG_RUNS, method="POST", headers={"Authorization": f"Bearer {TOKEN}"}
    ).respond_with_json(recorded("dag_run_triggered.json"))
    trigger = make_trigger(airflow, clock, sleeps)

    assert trigger.handle(alert()) == "triggered"

    [(request, _)] = airflow.log
    body = request.get_json()
    assert body["logical_date"] is None
    assert body["conf"]["alert"]["alertname"] == "RpsDriftRatioHigh"
    assert body["conf"]["alert"]["labels"]["instance"] == "127.0.0.1:3000"
    assert body["conf"]["alert"]["fingerprint"] == "a1b2"
    assert trigger.last_triggered == START


def test_within_the_cooldown_nothing_more_starts_and_after_it_a_new_episode_does(
    airflow, clock, sleeps
):
    airflow.expect_request(DAG_RUNS, method="POST").respond_with_json(
        recorded("dag_run_triggered.json")
    )
    trigger = make_trigger(airflow, clock, sleeps)
    assert trigger.handle(alert()) == "triggered"
    # the same episode re-sent by Alertmanager (group change, repeat_interval)
    assert trigger.handle(alert()) == "duplicate"
    # flapping: resolved, then firing again as a new episode, inside the cooldown
    assert trigger.handle(alert(status="resolved")) == "resolved"
    clock.now = START + timedelta(minutes=20)
    assert trigger.handle(alert(starts="12:20")) == "cooldown"
    assert trigger.handle(alert("RpsLiveSkillBelowBaseline", fingerprint="c3d4")) == "cooldown"
    clock.now = START + timedelta(minutes=61)
    assert trigger.handle(alert(starts="13:01")) == "triggered"
    assert trigger.handle(alert(starts="12:00")) == "duplicate"  # the first episode, still
    assert len(airflow.log) == 2


def test_other_alerts_and_resolved_ones_start_nothing(airflow, clock, sleeps):
    trigger = make_trigger(airflow, clock, sleeps)
    assert trigger.handle(alert("RpsServiceDown")) == "ignored"
    assert trigger.handle(alert(status="resolved")) == "resolved"
    assert airflow.log == []


def test_airflow_down_is_retried_with_backoff_then_reported(airflow, clock, sleeps, caplog):
    for _ in range(3):
        airflow.expect_oneshot_request(DAG_RUNS, method="POST").respond_with_data(
            "Service Unavailable", status=503
        )
    trigger = make_trigger(airflow, clock, sleeps)
    with caplog.at_level(logging.INFO, logger="rps_kedro.retraining"):
        assert trigger.handle(alert()) == "airflow_unavailable"
    assert sleeps == [2, 4]
    assert len(airflow.log) == 3
    assert "Airflow unavailable after 3 attempts (HTTP 503" in caplog.text
    assert trigger.last_triggered is None  # no cooldown: the next notification tries again


def test_airflow_unreachable_then_back(airflow, clock, sleeps):
    trigger = make_trigger(airflow, clock, sleeps, retry={"attempts": 2, "backoff_seconds": 1})
    airflow.stop()
    assert trigger.handle(alert()) == "airflow_unavailable"
    assert sleeps == [1]
    airflow.start()
    airflow.expect_request(DAG_RUNS, method="POST").respond_with_json(
        recorded("dag_run_triggered.json")
    )
    assert trigger.handle(alert()) == "triggered"


def test_a_refusal_is_reported_without_retrying(airflow, clock, sleeps, caplog):
    airflow.expect_request(DAG_RUNS, method="POST").respond_with_json(
        recorded("dag_not_found.json"), status=404
    )
    trigger = make_trigger(airflow, clock, sleeps)
    with caplog.at_level(logging.INFO, logger="rps_kedro.retraining"):
        assert trigger.handle(alert()) == "rejected"
    assert sleeps == [] and len(airflow.log) == 1
    assert "HTTP 404" in caplog.text and "not found" in caplog.text


def test_a_refused_token_is_renewed_from_the_credentials_and_never_logged(
    airflow, clock, sleeps, caplog
):
    tokens = iter([TOKEN, "renewed-token.fedcba9876543210"])

    def issue_token(request) -> Response:
        assert request.get_json() == {"username": "admin", "password": "pw-not-logged"}
        body = {**recorded("token.json"), "access_token": next(tokens)}
        return Response(json.dumps(body), content_type="application/json")

    airflow.expect_request("/auth/token", method="POST").respond_with_handler(issue_token)
    airflow.expect_oneshot_request(
        DAG_RUNS, method="POST", headers={"Authorization": f"Bearer {TOKEN}"}
    ).respond_with_json(recorded("invalid_token.json"), status=403)  # Airflow 3: expired JWT
    airflow.expect_oneshot_request(
        DAG_RUNS, method="POST", headers={"Authorization": "Bearer renewed-token.fedcba9876543210"}
    ).respond_with_json(recorded("dag_run_triggered.json"))
    url = airflow.url_for("").rstrip("/")
    token = AirflowToken(url, username="admin", password="pw-not-logged")  # noqa: S106
    trigger = make_trigger(airflow, clock, sleeps, token=token)
    with caplog.at_level(logging.DEBUG):
        assert trigger.handle(alert()) == "triggered"
    assert [request.path for request, _ in airflow.log] == [
        "/auth/token",
        DAG_RUNS,
        "/auth/token",
        DAG_RUNS,
    ]
    for secret in (TOKEN, "renewed-token", "pw-not-logged"):
        assert secret not in caplog.text


def test_bad_credentials_are_refused_and_a_fixed_token_is_not_renewed(airflow, clock, sleeps):
    airflow.expect_request("/auth/token", method="POST").respond_with_json(
        recorded("token_invalid_credentials.json"), status=401
    )
    url = airflow.url_for("").rstrip("/")
    token = AirflowToken(url, username="admin", password="wrong")  # noqa: S106
    assert make_trigger(airflow, clock, sleeps, token=token).handle(alert()) == "rejected"

    airflow.clear()
    airflow.expect_request(DAG_RUNS, method="POST").respond_with_json(
        recorded("invalid_token.json"), status=403
    )
    assert make_trigger(airflow, clock, sleeps).handle(alert()) == "rejected"
    assert len(airflow.log) == 1


def test_no_credentials_is_a_clear_error():
    with pytest.raises(ValueError, match="RPS_AIRFLOW_TOKEN"):
        AirflowToken("http://127.0.0.1:8080")
