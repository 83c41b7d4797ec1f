"""The service follows the registry's alias: `RegistryFollower` on a copy of the trained
project's registry (a new version swapped in, one that fails to load left out and not retried,
the registry unreachable), then `bentoml serve` in follow mode under a steady request load: the
new champion is swapped in with no failed request, a broken one is not."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from rps_kedro.serving.inference import ModelInfo, load_predictor
from rps_kedro.serving.model_follower import RegistryFollower
from tests.serving.conftest import SERVICE
from tests.serving.support import (
    SERVED_SYMBOLS,
    SteadyLoad,
    bentoml_server,
    copy_trained_project,
    metric_samples,
    register_bad_champion,
    register_champion_variant,
    seed_bentoml_home,
)
from tests.support.servers import http_request, wait_until
from tools.replay_traffic import predict_body

BROKEN = b"not a pickled ForecastModel"


def registry_uri(project: Path) -> str:
    return f"sqlite:///{project / 'mlflow.db'}"


def break_model(model) -> bytes:
    return BROKEN


@pytest.fixture
def project(trained_model, tmp_path) -> Path:
    return copy_trained_project(trained_model, tmp_path / "project")


def follower_of(project: Path, served: list, version: str = "1") -> RegistryFollower:
    executor = ThreadPoolExecutor(max_workers=1)
    return RegistryFollower(
        "rps_kedro",
        "champion",
        registry_uri(project),
        lambda folder, info: load_predictor(folder, info, executor),
        served.append,
        served_version=version,
    )


def test_a_new_version_is_loaded_and_swapped_in_and_a_broken_one_is_not(project, tmp_path):
    served: list = []
    follower = follower_of(project, served)
    assert follower.poll() == "unchanged"

    new = register_bad_champion(project, tmp_path)
    assert follower.poll() == "swapped"
    [predictor] = served
    assert predictor.info == ModelInfo("rps_kedro", new, "champion", predictor.info.run_id)
    assert predictor.info.run_id and follower.served_version == new

    broken = register_champion_variant(project, tmp_path, break_model, "broken")
    assert follower.poll() == "load_failed"
    assert follower.poll() == "unchanged"  # not retried until the alias moves again
    assert follower.served_version == new and len(served) == 1
    assert broken in follower.failed_versions


def test_an_unreachable_registry_is_reported_and_tried_again(tmp_path):
    follower = follower_of(tmp_path / "no-such-folder", [])
    assert follower.poll() == "registry_error"
    assert follower.poll() == "registry_error"


@pytest.mark.integration
def test_the_service_swaps_to_the_new_champion_under_load_without_a_failed_request(
    trained_model, project, tmp_path
):
    follow = {"enabled": True, "tracking_uri": registry_uri(project), "poll_seconds": 1}
    serving = {"serving": {"model": {"follow_registry": follow, "age_update_seconds": 1}}}
    (project / "conf/local/serving.yml").write_text(yaml.safe_dump(serving))
    home = tmp_path / "bentoml"
    seed_bentoml_home(project, home)
    symbol = SERVED_SYMBOLS[-1]
    body = predict_body(symbol, trained_model.recent_bars(symbol, 200))
    with (
        bentoml_server(
            SERVICE, home, tmp_path / "logs", conf_source=project / "conf", cwd=project, workers=1
        ) as server,
        SteadyLoad(server.url, [body]) as load,
    ):
        wait_until(lambda: len(load.answers) >= 5 or None, timeout=60, what="steady answers")
        new = register_bad_champion(project, tmp_path)
        wait_until(
            lambda: new in load.versions() or None, timeout=60, what=f"answers from version {new}"
        )
        register_champion_variant(project, tmp_path, break_model, "broken")

        def load_failed() -> dict | None:
            samples = metric_samples(http_request(f"{server.url}/metrics")[1].decode())
            failed = samples.get('rps_model_updates_total{outcome="load_failed"}')
            return samples if failed == 1 else None

        samples = wait_until(load_failed, timeout=60, what="the broken version refused")
        answered = len(load.answers)
        wait_until(
            lambda: len(load.answers) >= answered + 5 or None, timeout=60, what="more answers"
        )
    statuses = {status for status, _ in load.answers}
    assert statuses == {200}, f"{len(load.answers)} answers: {statuses}"
    versions = load.versions()
    switch = versions.index(new)
    assert set(versions[:switch]) == {"1"} and set(versions[switch:]) == {new}
    assert samples['rps_model_info{alias="champion",version="1"}'] == 0
    assert samples[f'rps_model_info{{alias="champion",version="{new}"}}'] == 1
    assert samples['rps_model_updates_total{outcome="swapped"}'] == 1
    assert samples["rps_model_age_seconds"] > 0
