"""The closed loop with every real process (issue 14): `bentoml serve` following the registry's
`champion` alias under a steady request load of bars with eight times their moves; Prometheus (the real rules,
`for:` shortened) raises the drift alert; Alertmanager routes it to the retrain trigger, which
starts the modelling DAG through the real `airflow api-server`; the scheduler (LocalExecutor)
runs it: a new version is registered and promoted, and the service swaps to it with no failed
request. Then a worse retrain (HAR without its day and week components) is registered but not
promoted, and the service keeps its version."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from rps_kedro.core.model_names import REGISTERED_MODEL_NAME
from rps_kedro.retraining.trigger import AirflowDagTrigger, AirflowToken, RetrainTrigger
from tests.conftest import PROJECT_ROOT
from tests.retraining.test_receiver import decisions
from tests.retraining.test_trigger import alert, settings_for
from tests.serving.conftest import SERVICE, TEST_DRIFT_WINDOW
from tests.serving.support import (
    SteadyLoad,
    bentoml_server,
    copy_trained_project,
    metric_samples,
    project_registry,
    server_home,
)
from tests.serving.test_service import LOOKBACK
from tests.support.airflow import (
    ADMIN,
    ADMIN_PASSWORD,
    DAGS_FOLDER,
    RunningAirflow,
    running_airflow,
)
from tests.support.servers import (
    MonitoringStack,
    ServerProcess,
    http_request,
    require_binaries,
    running_monitoring_stack,
    running_retrain_trigger,
    wait_until,
)
from tools.replay_traffic import recent_requests, widened

pytestmark = pytest.mark.integration

DAG_ID = "rps_kedro_modelling"
# A worse retrain, as a bad configuration makes one: the HAR without its day and week parts and
# learned models that cannot learn (one boosting round, a ridge shrunk to its intercept).
WORSE = {
    "modelling": {
        "har": {"components": ["garman_klass_volatility"]},
        "candidates": {"gradient_boosting": {"max_iter": 1}, "ridge": {"alpha": 1.0e12}},
    }
}
PACE_SECONDS = 0.1  # the steady load: about ten requests a second
VOLATILITY_FACTOR = 8.0  # drift ratio about 0.35 (the threshold is 0.1): 4 would hover around it
DAG_RUN_SECONDS = 600


def registry_state() -> tuple[dict[str, str], dict[str, str]]:
    """The registered model's aliases -> version, and version -> promotion tag."""
    client = MlflowClient()
    aliases = {
        alias: str(version)
        for alias, version in client.get_registered_model(REGISTERED_MODEL_NAME).aliases.items()
    }
    tags = {
        str(v.version): v.tags.get("promotion", "")
        for v in client.search_model_versions(f"name='{REGISTERED_MODEL_NAME}'")
    }
    return aliases, tags


@pytest.fixture
def project(trained_model, tmp_path) -> Path:
    """A copy of the trained project with its DAGs, whose service follows its registry."""
    project = copy_trained_project(trained_model, tmp_path / "project")
    shutil.copytree(PROJECT_ROOT / DAGS_FOLDER, project / DAGS_FOLDER)
    follow = {"enabled": True, "tracking_uri": f"sqlite:///{project / 'mlflow.db'}"}
    serving = {
        "model": {"follow_registry": {**follow, "poll_seconds": 1}},
        "drift": {"window_requests": TEST_DRIFT_WINDOW},
    }
    (project / "conf/local/serving.yml").write_text(yaml.safe_dump({"serving": serving}))
    return project


@dataclass
class ClosedLoop:
    airflow: RunningAirflow
    service: ServerProcess
    trigger: ServerProcess
    monitoring: MonitoringStack

    def start_run(self, dag_id: str = DAG_ID) -> AirflowDagTrigger:
        """The trigger's Airflow client, as the admin, starting runs of `dag_id`."""
        airflow = {"url": self.airflow.url, "dag_id": dag_id, "request_timeout_seconds": 10}
        token = AirflowToken(self.airflow.url, username=ADMIN, password=ADMIN_PASSWORD)
        return AirflowDagTrigger(settings_for(self.airflow.url, airflow=airflow), token)


@contextlib.contextmanager
def closed_loop(project: Path, bentoml_home: Path, workdir: Path) -> Iterator[ClosedLoop]:
    """Airflow (api-server + scheduler), the service in follow mode, the retrain trigger and
    the monitoring stack routing the retrain alerts to it; all stopped on exit."""
    credentials = {"username": ADMIN, "password": ADMIN_PASSWORD}
    with contextlib.ExitStack() as stack:
        airflow = stack.enter_context(running_airflow(project, workdir, scheduler=True))
        service = stack.enter_context(
            bentoml_server(
                SERVICE,
                server_home(bentoml_home, workdir / "bentoml"),
                workdir / "logs",
                conf_source=project / "conf",
                cwd=project,
                workers=1,
            )
        )
        trigger = stack.enter_context(
            running_retrain_trigger(workdir, airflow_url=airflow.url, credentials=credentials)
        )
        monitoring = stack.enter_context(
            running_monitoring_stack(
                workdir,
                service_target=service.url.removeprefix("http://"),
                retrain_url=f"{trigger.url}/alerts",
            )
        )
        yield ClosedLoop(airflow, service, trigger, monitoring)


def training_run_tags(version: str) -> dict[str, str]:
    """The tags of the MLflow run that trained a registered version."""
    client = MlflowClient()
    run_id = client.get_model_version(REGISTERED_MODEL_NAME, version).run_id
    return client.get_run(run_id).data.tags


def test_drift_retrains_promotes_and_the_service_swaps_without_a_failed_request(
    trained_model, project, tmp_path
):
    require_binaries("prometheus", "alertmanager", "pushgateway")
    # the README's way to shift the regime: `python -m tools.replay_traffic --volatility-factor 8`
    shifted = recent_requests(
        widened(trained_model.bars, VOLATILITY_FACTOR), TEST_DRIFT_WINDOW, LOOKBACK
    )
    with (
        closed_loop(project, trained_model.bentoml_home, tmp_path) as loop,
        SteadyLoad(loop.service.url, shifted, PACE_SECONDS) as load,
    ):
        # drift -> alert -> trigger -> a modelling run through Airflow's API
        filed = loop.monitoring.wait_for_alert("RpsDriftRatioHigh", "firing", timeout=120)
        with loop.airflow.dag_runs() as api:
            [started] = wait_until(
                lambda: api.get_dag_runs(DAG_ID).dag_runs or None,
                timeout=60,
                what="the retrain's DAG run",
            )
        assert started.conf["alert"]["fingerprint"] == filed["fingerprint"]
        assert started.triggered_by.value == "rest_api"
        retrain = loop.airflow.wait_until_finished(DAG_ID, started.dag_run_id, DAG_RUN_SECONDS)
        assert retrain.state.value == "success", loop.airflow.logs()

        # the gate promoted the retrained version; the service swaps to it
        with project_registry(project):
            aliases, tags = registry_state()
            run_tags = training_run_tags("2")
        assert aliases["champion"] == "2", tags
        assert tags["2"].startswith("every target is not worse"), tags["2"]
        assert run_tags["airflow.run_id"] == started.dag_run_id  # the run says why it ran
        assert run_tags["retrain.alert.alertname"] == "RpsDriftRatioHigh"
        assert run_tags["retrain.alert.fingerprint"] == filed["fingerprint"]
        wait_until(lambda: "2" in load.versions() or None, timeout=60, what="answers of v2")

        # a worse retrain, started by hand: registered, not promoted; the service keeps v2
        worse_run = loop.start_run()({"kedro_params": WORSE})
        worse = loop.airflow.wait_until_finished(DAG_ID, worse_run, DAG_RUN_SECONDS)
        assert worse.state.value == "success", loop.airflow.logs()
        with project_registry(project):
            aliases, tags = registry_state()
        assert aliases == {"champion": "2", "challenger": "3"}
        assert tags["3"].startswith("failed (champion version 2)"), tags["3"]
        answered = len(load.answers)
        wait_until(lambda: len(load.answers) >= answered + 20 or None, timeout=60, what="answers")

        # one retrain for the alert, however long it kept firing; an unknown DAG is refused
        assert decisions(loop.trigger.url)[("RpsDriftRatioHigh", "triggered")] == 1
        metrics = metric_samples(http_request(f"{loop.service.url}/metrics")[1].decode())
        refused = RetrainTrigger(settings_for(loop.airflow.url), loop.start_run("no_such_dag"))
        assert refused.handle(alert(fingerprint="c3d4")) == "rejected"

    assert len(load.answers) >= 100, "a steady load through the whole loop"
    statuses = {status for status, _ in load.answers}
    assert statuses == {200}, f"{len(load.answers)} answers: {statuses}"
    versions = load.versions()
    switch = versions.index("2")
    assert set(versions[:switch]) == {"1"} and set(versions[switch:]) == {"2"}
    assert metrics['rps_model_updates_total{outcome="swapped"}'] == 1
    assert metrics['rps_model_info{alias="champion",version="2"}'] == 1
    for server in (loop.airflow.api, loop.trigger):
        assert ADMIN_PASSWORD not in server.log_path.read_text()
