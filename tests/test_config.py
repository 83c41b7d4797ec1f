"""One way to read conf/: base merged key by key with an environment, base alone without one."""

from __future__ import annotations

import shutil

from rps_kedro.config import load_config
from tests.conftest import PROJECT_ROOT


def test_an_environment_overrides_single_keys_of_base(tmp_path):
    conf = shutil.copytree(PROJECT_ROOT / "conf", tmp_path / "conf")
    (conf / "local/serving.yml").write_text("serving:\n  drift:\n    window_requests: 7\n")

    serving = load_config("serving", conf, "local")["serving"]

    assert serving["drift"]["window_requests"] == 7
    assert serving["limits"] == load_config("serving", conf, "base")["serving"]["limits"]


def test_a_missing_environment_reads_base_alone():
    conf = PROJECT_ROOT / "conf"
    assert load_config("parameters", conf, "missing") == load_config("parameters", conf, "base")


def test_mlflow_settings_are_read_as_kedro_mlflow_reads_them():
    server = load_config("mlflow", PROJECT_ROOT / "conf", "base")["server"]
    assert server["mlflow_tracking_uri"]
