"""Issue 13's end-to-end test of the live loop with a deliberately bad champion: a copy of the
trained project registers a model that forecasts +2 % every hour and a 5 % hourly volatility as
`champion`; `bentoml serve` (imported from the registry as `make bento` does) answers real-format
requests for the simulated symbols; the hourly refresh (`kedro run --pipelines data_refresh`:
ingestion and gate advance the simulator 42 hours, then features, the scheduled forecast and live
scoring) scores them against the bars that arrived; the live metrics reach the real Prometheus
through the real Pushgateway, `RpsLiveSkillBelowBaseline` fires and lands in the alert
receiver's file, and the version's live run and tags are in the MLflow registry."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from rps_kedro.core.model_names import REGISTERED_MODEL_NAME
from rps_kedro.serving.settings import settings
from tests.conftest import kedro_run
from tests.serving.conftest import SERVICE
from tests.serving.support import (
    SERVED_SYMBOLS,
    bentoml_server,
    copy_trained_project,
    project_registry,
    register_bad_champion,
    seed_bentoml_home,
)
from tests.support.servers import (
    ServerProcess,
    require_binaries,
    running_monitoring_stack,
    wait_until,
)
from tools import replay_traffic

pytestmark = pytest.mark.integration

PRIMARY_BARS = "data/03_primary/bars"
ADVANCED_END = "2025-06-02 18:00"  # 42 h after SIMULATOR_END (a Sunday): AAPL's Monday session
REQUESTS_PER_SYMBOL = 32


@dataclass
class BadChampion:
    project: Path
    version: str
    service: ServerProcess


@pytest.fixture(scope="module")
def bad_champion(trained_model, tmp_path_factory) -> Iterator[BadChampion]:
    """A copy of the trained project whose registry's champion is deliberately bad, served."""
    root = tmp_path_factory.mktemp("bad-champion")
    project = copy_trained_project(trained_model, root / "project")
    version = register_bad_champion(project, root)
    home = root / "bentoml"
    seed_bentoml_home(project, home)
    with bentoml_server(
        SERVICE, home, root / "logs", conf_source=project / "conf", cwd=project, workers=1
    ) as server:
        yield BadChampion(project, version, server)


def _logged_rows(project: Path) -> int:
    """Rows the service has written to the project's prediction log so far."""
    log = project / settings().prediction_log.directory
    return sum(len(path.read_text().splitlines()) for path in log.rglob("*.jsonl"))


def test_a_bad_champion_fires_the_live_skill_alert_from_real_scoring(
    bad_champion, tmp_path, caplog
):
    require_binaries("prometheus", "alertmanager", "pushgateway")
    project, version, service = bad_champion.project, bad_champion.version, bad_champion.service
    with running_monitoring_stack(tmp_path, service_target=service.url[len("http://") :]) as stack:
        # `python -m tools.replay_traffic` (the README's walk-through): the last 32 bars of each
        # symbol forecast as clients would have asked; the latest bars' next bars are to come
        replay = ["--url", service.url, "--hours", str(REQUESTS_PER_SYMBOL)]
        replay += ["--bars", str(project / PRIMARY_BARS), "--conf", str(project / "conf")]
        with caplog.at_level(logging.INFO, logger="tools.replay_traffic"):
            assert replay_traffic.main(replay) == 0, caplog.text
        requests = len(SERVED_SYMBOLS) * REQUESTS_PER_SYMBOL
        assert f"{requests} requests: statuses {{200: {requests}}}" in caplog.text
        assert f"model versions {{'{version}': {requests}}}" in caplog.text
        wait_until(
            lambda: _logged_rows(project) >= requests or None,
            timeout=60,
            what="every answer in the prediction log",
        )

        refresh = kedro_run(
            project,
            "--pipelines=data_refresh",
            f"--params=simulator_end={ADVANCED_END},live_scoring.as_of={ADVANCED_END}",
            RPS_PUSHGATEWAY_URL=stack.pushgateway_url,
        )
        assert refresh.returncode == 0, refresh.stderr[-4000:]

        scored = pd.read_parquet(project / "data/07_model_output/scored_predictions.parquet")
        served = scored.loc[
            (scored["source"] != "scheduled") & (scored["model_version"] == version)
        ]
        assert len(served) == requests
        assert (served["status"] == "scored").all()  # the latest bars' too, after the advance
        weekly = pd.read_csv(
            project / "data/08_reporting/live_metrics.csv", dtype={"model_version": str}
        )
        weekly = weekly.query(f"window == '7d' and model_version == '{version}'").set_index(
            "symbol"
        )
        assert sorted(weekly.index) == sorted(SERVED_SYMBOLS)
        # AAPL's week to ADVANCED_END holds 29 session hours (Memorial Day): under the minimum
        assert weekly["scored"].to_dict() == {"AAPL": 29, "BTC-USD": REQUESTS_PER_SYMBOL}
        assert (weekly[["return_skill_vs_persistence", "volatility_skill_vs_har"]] < 0).all().all()

        below = f'rps_live_skill{{model_version="{version}", window="7d"}} < 0'
        assert len(stack.prometheus.wait_for_samples(below)) == 2 * len(SERVED_SYMBOLS)
        alert = stack.wait_for_alert("RpsLiveSkillBelowBaseline", "firing", timeout=90)
        assert alert["labels"]["model_version"] == version
        assert alert["labels"]["symbol"] == "BTC-USD"  # AAPL: too few scored forecasts
        assert "trails its baseline" in alert["annotations"]["summary"]

    with project_registry(project):
        client = MlflowClient()
        tags = client.get_model_version(REGISTERED_MODEL_NAME, version).tags
        run = client.get_run(tags["live_run_id"])
        plots = [a.path for a in client.list_artifacts(run.info.run_id, "plots")]
    for symbol in SERVED_SYMBOLS:
        assert float(tags[f"live_7d_return_skill.{symbol}"]) < 0
        assert run.data.metrics[f"7d.{symbol}.volatility_skill_vs_har"] < 0
    assert run.data.tags["model_version"] == version
    assert "plots/volatility_predicted_vs_realised.png" in plots
