"""monitoring/alertmanager.yml and its compose twin: amtool clean, every alert routed to the
project's webhook receiver, the drift and live-skill alerts to the retrain trigger too, and the
documented Slack alternative valid once uncommented."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from rps_kedro.config import load_config
from tests.conftest import PROJECT_ROOT
from tests.support.servers import (
    MONITORING_DIR,
    RETRAIN_RECEIVER,
    write_test_alertmanager_config,
)

ALERTMANAGER_CONFIGS = [
    MONITORING_DIR / "alertmanager.yml",
    MONITORING_DIR / "compose/alertmanager.yml",
]
LOCAL_WEBHOOK = "http://127.0.0.1:9095/alerts"  # `make alert-receiver`'s default port
COMPOSE_WEBHOOK = "http://alert-receiver:9095/alerts"
LOCAL_RETRAIN = "http://127.0.0.1:9096/alerts"  # `make retrain-trigger`'s default port
COMPOSE_RETRAIN = "http://host.docker.internal:9096/alerts"  # on the host, beside Airflow
# conf/base/retraining.yml's alerts: the ones Alertmanager routes to the retrain trigger
RETRAIN_ALERTS = load_config("retraining", PROJECT_ROOT / "conf")["retraining"]["alerts"]
# The lines of the commented Slack example (receiver and route), by their first key.
SLACK_EXAMPLE = re.compile(
    r"^(?P<indent>\s*)# (?P<line>\s*(?:routes:|- receiver:|matchers:|continue:|"
    r"- name: slack|slack_configs:|- api_url_file:|channel:|send_resolved:|title:|text:|"
    r"\{\{ range|\{\{ \.Annotations|\{\{ end).*)$"
)


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(
    "config", ALERTMANAGER_CONFIGS, ids=lambda p: str(p.relative_to(MONITORING_DIR))
)
def test_amtool_check_config(amtool, config):
    result = run(amtool, "check-config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "labels",
    [
        "alertname=RpsServiceDown severity=critical job=rps_service",
        "alertname=RpsHighErrorRate severity=critical job=rps_service",
        "alertname=RpsInferenceLatencyHigh severity=warning job=rps_service",
        "alertname=RpsDriftRatioHigh severity=warning job=rps_service",
        "alertname=RpsLiveSkillBelowBaseline severity=warning job=rps_live_scoring",
        "alertname=RpsStaleForecast severity=warning job=rps_live_scoring",
    ],
)
def test_every_alert_goes_to_the_file_and_drift_and_live_skill_to_the_retrain_trigger(
    amtool, labels
):
    config = MONITORING_DIR / "alertmanager.yml"
    result = run(amtool, "config", "routes", "test", f"--config.file={config}", *labels.split())
    assert result.returncode == 0, result.stdout + result.stderr
    retrains = any(f"alertname={name} " in labels + " " for name in RETRAIN_ALERTS)
    assert result.stdout.strip() == ("rps-retrain,rps-webhook" if retrains else "rps-webhook")


def test_the_retrain_route_names_the_alerts_the_trigger_acts_on():
    config = yaml.safe_load((MONITORING_DIR / "alertmanager.yml").read_text())
    [route] = [r for r in config["route"]["routes"] if r["receiver"] == RETRAIN_RECEIVER]
    assert route["matchers"] == [f'alertname=~"{"|".join(RETRAIN_ALERTS)}"']
    assert route["continue"] is True


def test_the_webhooks_are_the_project_receivers_with_resolved_notices():
    local = yaml.safe_load((MONITORING_DIR / "alertmanager.yml").read_text())
    urls = {}
    for receiver in local["receivers"]:
        (webhook,) = receiver["webhook_configs"]
        assert webhook["send_resolved"] is True
        urls[receiver["name"]] = webhook["url"]
    assert urls == {"rps-webhook": LOCAL_WEBHOOK, RETRAIN_RECEIVER: LOCAL_RETRAIN}


def test_the_compose_config_is_the_local_one_with_the_containers_addresses():
    local = (MONITORING_DIR / "alertmanager.yml").read_text()
    compose = (MONITORING_DIR / "compose/alertmanager.yml").read_text()
    local_config = yaml.safe_load(local)
    addresses = {"rps-webhook": COMPOSE_WEBHOOK, RETRAIN_RECEIVER: COMPOSE_RETRAIN}
    for receiver in local_config["receivers"]:
        receiver["webhook_configs"][0]["url"] = addresses[receiver["name"]]
    assert yaml.safe_load(compose) == local_config


def test_the_slack_alternative_is_a_valid_config_once_uncommented(amtool, tmp_path):
    text = (MONITORING_DIR / "alertmanager.yml").read_text()
    lines = []
    for line in text.splitlines():
        match = SLACK_EXAMPLE.match(line)
        lines.append(match["indent"] + match["line"] if match else line)
    uncommented = "\n".join(lines)
    config = yaml.safe_load(uncommented)
    assert [r["name"] for r in config["receivers"]] == ["rps-webhook", "rps-retrain", "slack"]
    assert [r["receiver"] for r in config["route"]["routes"]] == [
        "rps-retrain",
        "slack",
        "rps-webhook",
    ]
    (tmp_path / "slack_webhook_url").write_text("https://hooks.slack.com/services/T0/B0/XXXX\n")
    slack = config["receivers"][2]["slack_configs"][0]
    slack["api_url_file"] = str(tmp_path / "slack_webhook_url")
    path = tmp_path / "alertmanager-slack.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = run(amtool, "check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr

    def routed(*labels: str) -> str:
        argv = ["config", "routes", "test", f"--config.file={path}", *labels]
        return run(amtool, *argv).stdout.strip()

    assert routed("alertname=RpsServiceDown", "severity=critical") == "slack,rps-webhook"
    assert routed("alertname=RpsDriftRatioHigh", "severity=warning") == "rps-retrain,rps-webhook"


def test_test_config_shortens_grouping_and_points_at_the_test_receiver(amtool, tmp_path):
    path = write_test_alertmanager_config(
        tmp_path / "alertmanager.yml", webhook_url="http://127.0.0.1:1234/alerts"
    )
    config = yaml.safe_load(path.read_text())
    assert (config["route"]["group_wait"], config["route"]["group_interval"]) == ("1s", "1s")
    assert config["receivers"][0]["webhook_configs"][0]["url"] == "http://127.0.0.1:1234/alerts"
    assert run(amtool, "check-config", str(path)).returncode == 0
