"""The built Bento: `bentoml build` with bentofile.yaml, `bentoml get` shows it with the
champion, and `bentoml serve <tag>` from an unrelated folder serves predictions from the
Bento's own copy of the src-layout package and its conf."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from rps_kedro.core.model_names import REGISTERED_MODEL_NAME
from tests.serving.support import (
    BIN,
    bentoml_server,
    environment,
    seed_bentoml_home,
    server_home,
)
from tests.support.servers import http_request
from tools.replay_traffic import predict_body

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bento_tag(trained_model) -> str:
    result = subprocess.run(
        [str(BIN / "bentoml"), "build"],
        cwd=trained_model.project,
        env=environment(trained_model.bentoml_home),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return re.search(r'Bento\(tag="([^"]+)"\)', result.stdout + result.stderr).group(1)


def test_bentoml_get_shows_the_bento_with_the_champion(bento_tag, trained_model):
    result = subprocess.run(
        [str(BIN / "bentoml"), "get", bento_tag, "-o", "json"],
        env=environment(trained_model.bentoml_home),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    info = json.loads(result.stdout)
    assert info["service"] == "rps_kedro.serving.service:RpsService"
    assert [m["tag"] for m in info["services"][0]["models"]] == [trained_model.tag]
    assert {route["route"] for route in info["schema"]["routes"]} >= {"/predict", "/predict_batch"}


def test_the_built_bento_serves_from_its_own_code(bento_tag, trained_model, tmp_path):
    home = server_home(trained_model.bentoml_home, tmp_path / "home")
    elsewhere = tmp_path / "elsewhere"  # no conf/ here: the Bento brings its own
    elsewhere.mkdir()
    with bentoml_server(bento_tag, home, tmp_path / "logs", cwd=elsewhere) as server:
        body = predict_body("BTC-USD", trained_model.recent_bars("BTC-USD", 170))
        status, answer = http_request(server.url + "/predict", body, timeout=120)
        assert status == 200, answer
        assert json.loads(answer)["model_version"] == "1"
        log = server.log_path.read_text()
    bento_path = trained_model.bentoml_home / "bentos" / bento_tag.replace(":", "/")
    code_from = re.search(r"code from (\S+)", log).group(1)
    assert code_from == str((bento_path / "src" / "rps_kedro").resolve()), code_from


def test_importing_the_same_champion_again_is_a_no_op(trained_model):
    assert seed_bentoml_home(trained_model.project, trained_model.bentoml_home) == trained_model.tag
    models = list((trained_model.bentoml_home / "models" / REGISTERED_MODEL_NAME).iterdir())
    assert [m.name for m in models if m.is_dir()] == [trained_model.tag.split(":")[1]]
