"""Serving settings: conf/base/serving.yml, key by key overridable per environment."""

from __future__ import annotations

import shutil

import pytest
from pydantic import ValidationError

from rps_kedro.serving.settings import find_conf_source, load_settings
from tests.conftest import PROJECT_ROOT, project_parameters


def test_the_project_settings_load_and_keep_the_alert_boundary():
    settings = load_settings(PROJECT_ROOT / "conf", env="base")
    assert 0.5 in settings.metrics.inference_latency_buckets
    assert settings.model.alias == "champion"
    assert settings.limits.max_gap_hours.crypto == 1


def test_an_environment_overrides_single_keys(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(PROJECT_ROOT / "conf/base", conf / "base")
    (conf / "local").mkdir()
    (conf / "local/serving.yml").write_text("serving:\n  drift:\n    window_requests: 7\n")
    settings = load_settings(conf, env="local")
    assert settings.drift.window_requests == 7
    assert settings.limits == load_settings(conf, env="base").limits
    assert load_settings(conf, env="missing").drift.window_requests != 7  # no such folder: base


def test_latency_buckets_without_the_alert_boundary_are_refused(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(PROJECT_ROOT / "conf/base", conf / "base")
    (conf / "local").mkdir()
    (conf / "local/serving.yml").write_text(
        "serving:\n  metrics:\n    inference_latency_buckets: [0.1, 0.4, 1.0]\n"
    )
    with pytest.raises(ValidationError, match=r"0\.5"):
        load_settings(conf, env="local")


def test_the_conf_folder_is_the_variables_else_the_one_next_to_the_code(tmp_path, monkeypatch):
    monkeypatch.setenv("RPS_CONF_SOURCE", str(tmp_path))
    assert find_conf_source() == tmp_path
    monkeypatch.delenv("RPS_CONF_SOURCE")
    monkeypatch.chdir(tmp_path)  # not the working directory's
    assert find_conf_source() == PROJECT_ROOT / "conf"


def test_serving_settings_are_not_pipeline_parameters():
    assert "serving" not in project_parameters()
