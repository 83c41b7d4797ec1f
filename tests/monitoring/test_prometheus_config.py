"""monitoring/prometheus.yml, compose/prometheus.yml and the alert rules: promtool clean, rule
unit tests green and complete, and the test copies derived from them faithful."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from tests.support.servers import (
    LOCAL_ALERTMANAGER,
    LOCAL_PROMETHEUS,
    LOCAL_PUSHGATEWAY,
    LOCAL_SERVICE,
    MONITORING_DIR,
    RULES_DIR,
    write_test_prometheus_config,
    write_test_rules,
)

PROMETHEUS_CONFIGS = [MONITORING_DIR / "prometheus.yml", MONITORING_DIR / "compose/prometheus.yml"]
RULE_TESTS = sorted((MONITORING_DIR / "tests").glob("*.yml"))
ALERTS = {
    "RpsServiceDown",
    "RpsHighErrorRate",
    "RpsInferenceLatencyHigh",
    "RpsDriftRatioHigh",
    "RpsModelStale",
    "RpsLiveSkillBelowBaseline",
    "RpsForecastsNotScored",
    "RpsStaleForecast",
}
COMPOSE_ADDRESSES = {
    LOCAL_SERVICE: "rps-service:3000",
    LOCAL_PROMETHEUS: "prometheus:9090",
    LOCAL_ALERTMANAGER: "alertmanager:9093",
    LOCAL_PUSHGATEWAY: "pushgateway:9091",
}


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def alert_rules() -> dict[str, dict]:
    rules = {}
    for path in sorted(RULES_DIR.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules.update({rule["alert"]: rule for rule in group["rules"] if "alert" in rule})
    return rules


@pytest.mark.parametrize(
    "config", PROMETHEUS_CONFIGS, ids=lambda p: str(p.relative_to(MONITORING_DIR))
)
def test_promtool_check_config(promtool, config):
    result = run(promtool, "check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout + result.stderr


def test_promtool_check_rules(promtool):
    result = run(promtool, "check", "rules", *map(str, sorted(RULES_DIR.glob("*.yml"))))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rule_unit_tests_pass(promtool):
    assert RULE_TESTS, "no rule unit tests in monitoring/tests/"
    result = run(promtool, "test", "rules", *map(str, RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAILED" not in result.stdout + result.stderr


def test_the_issue_alerts_exist_with_severity_and_what_to_look_at():
    rules = alert_rules()
    assert set(rules) == ALERTS
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert rule["annotations"]["summary"], name
        assert re.search(r"\b(look|see)\b", rule["annotations"]["description"], re.I), name
        assert "for" in rule, name
    assert rules["RpsInferenceLatencyHigh"]["for"] == "5m"
    assert rules["RpsDriftRatioHigh"]["for"] == "10m"


def test_every_alert_has_a_firing_and_a_not_firing_unit_test():
    firing, quiet = set(), set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert firing >= ALERTS, f"never tested firing: {ALERTS - firing}"
    assert quiet >= ALERTS, f"never tested quiet: {ALERTS - quiet}"


def test_the_drift_threshold_is_defined_once_and_used_by_the_alert():
    text = "".join(path.read_text() for path in sorted(RULES_DIR.glob("*.yml")))
    assert len(re.findall(r"vector\(0\.1\)", text)) == 1
    assert "rps:drift_ratio:threshold" in alert_rules()["RpsDriftRatioHigh"]["expr"]


def test_the_compose_config_is_the_local_one_with_service_names(tmp_path):
    """compose/prometheus.yml differs from prometheus.yml only in addresses (and rule paths,
    relative to their own folders)."""
    local = yaml.safe_load((MONITORING_DIR / "prometheus.yml").read_text())
    compose = yaml.safe_load((MONITORING_DIR / "compose/prometheus.yml").read_text())
    assert local["rule_files"] == ["rules/*.yml"]
    assert compose["rule_files"] == ["../rules/*.yml"]
    local["rule_files"] = compose["rule_files"]

    def readdress(node):
        if isinstance(node, dict):
            return {key: readdress(value) for key, value in node.items()}
        if isinstance(node, list):
            return [readdress(value) for value in node]
        return COMPOSE_ADDRESSES.get(node, node)

    assert readdress(local) == compose


def test_test_rules_shorten_every_for_and_change_nothing_else(tmp_path):
    (copy,) = write_test_rules(tmp_path, for_duration="2s")
    original = yaml.safe_load((RULES_DIR / copy.name).read_text())
    shortened = yaml.safe_load(copy.read_text())
    for group, short_group in zip(original["groups"], shortened["groups"], strict=True):
        for rule, short in zip(group["rules"], short_group["rules"], strict=True):
            if "alert" in rule:
                assert short.pop("for") == "2s"
                rule.pop("for")
            assert short == rule


def test_test_prometheus_config_rewrites_addresses_and_timings(tmp_path, promtool):
    rules = write_test_rules(tmp_path / "rules")
    config_path = write_test_prometheus_config(
        tmp_path / "prometheus.yml",
        addresses={
            LOCAL_SERVICE: "127.0.0.1:1111",
            LOCAL_PROMETHEUS: "127.0.0.1:2222",
            LOCAL_ALERTMANAGER: None,
            LOCAL_PUSHGATEWAY: "127.0.0.1:3333",
        },
        rule_files=rules,
    )
    config = yaml.safe_load(config_path.read_text())
    assert config["global"]["scrape_interval"] == config["global"]["evaluation_interval"] == "1s"
    assert {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    } == {
        "rps_service": ["127.0.0.1:1111"],
        "prometheus": ["127.0.0.1:2222"],
        "pushgateway": ["127.0.0.1:3333"],
    }
    assert "alerting" not in config
    result = run(promtool, "check", "config", str(config_path))
    assert result.returncode == 0, result.stdout + result.stderr
