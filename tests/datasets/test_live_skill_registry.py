"""Live skill reaches the MLflow registry: one run per model version whose metric history grows
with every scoring, and the version's tags (next to its test-window metrics); an unknown version
gets no tags."""

import logging

import matplotlib.pyplot as plt
import mlflow
import pytest
from mlflow.tracking import MlflowClient

from rps_kedro.datasets import LiveSkillRegistryDataset, ModelTestSkillDataset

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*Add type hints to the `predict` method:UserWarning"
)


class Constant(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input):
        return model_input


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """An embedded MLflow store with version 1 of the registered model rps_kedro."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.create_experiment("training", artifact_location=(tmp_path / "artifacts").as_uri())
    mlflow.set_experiment("training")
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="model", python_model=Constant())
    mlflow.register_model(info.model_uri, "rps_kedro")
    yield MlflowClient()
    mlflow.set_tracking_uri(None)


def test_each_version_gets_a_run_and_its_tags(registry, caplog):
    scores = {
        "1": {
            "as_of": "2026-11-30T14:00:00+00:00",
            "metrics": {"7d.BTC-USD.return_skill_vs_persistence": -0.01, "7d.BTC-USD.scored": 160},
            "tags": {"live_7d_return_skill.BTC-USD": "-0.0100"},
            "figures": {"plots/cumulative_skill_vs_baselines.png": plt.figure()},
        },
        "9": {"as_of": "2026-11-30T14:00:00+00:00", "metrics": {"1d.AAPL.scored": 7}, "tags": {}},
    }
    with caplog.at_level(logging.WARNING):
        LiveSkillRegistryDataset().save(scores)
    assert "version 9" in caplog.text  # not in the registry: a run, no tags

    version = registry.get_model_version("rps_kedro", "1")
    assert version.tags["live_7d_return_skill.BTC-USD"] == "-0.0100"
    run = registry.get_run(version.tags["live_run_id"])
    assert run.data.metrics == {
        "7d.BTC-USD.return_skill_vs_persistence": -0.01,
        "7d.BTC-USD.scored": 160.0,
    }
    assert run.data.tags["model_version"] == "1" and run.info.run_name == "live v1"
    artifacts = [a.path for a in registry.list_artifacts(run.info.run_id, "plots")]
    assert artifacts == ["plots/cumulative_skill_vs_baselines.png"]
    experiment = registry.get_experiment_by_name("rps_kedro_live")
    assert len(registry.search_runs([experiment.experiment_id])) == 2


def test_a_versions_run_is_reused_and_its_history_grows_hour_by_hour(registry):
    dataset = LiveSkillRegistryDataset()
    for hour, skill in ((14, -0.01), (15, 0.02)):
        as_of = f"2026-11-30T{hour}:00:00+00:00"
        metrics = {"7d.BTC-USD.return_skill_vs_persistence": skill}
        dataset.save({"1": {"as_of": as_of, "metrics": metrics, "tags": {}}})
    experiment = registry.get_experiment_by_name("rps_kedro_live")
    [run] = registry.search_runs([experiment.experiment_id])
    history = registry.get_metric_history(run.info.run_id, "7d.BTC-USD.return_skill_vs_persistence")
    assert [(m.value, m.step) for m in history] == [(-0.01, 498902), (0.02, 498903)]
    assert run.data.tags["live_as_of"] == "2026-11-30T15:00:00+00:00"


def test_each_versions_test_skill_is_read_from_its_training_run(registry):
    [version] = registry.search_model_versions("name = 'rps_kedro'")
    registry.log_metric(
        version.run_id, "modelling_metrics.test.served.return.skill_vs_persistence", -0.002
    )
    registry.log_metric(
        version.run_id, "modelling_metrics.test.served.volatility.skill_vs_har", 0.031
    )
    with mlflow.start_run():  # a second version whose run logged no test metrics
        info = mlflow.pyfunc.log_model(name="model", python_model=Constant())
    mlflow.register_model(info.model_uri, "rps_kedro")
    metrics = {
        "return": "modelling_metrics.test.served.return.skill_vs_persistence",
        "volatility": "modelling_metrics.test.served.volatility.skill_vs_har",
    }
    assert ModelTestSkillDataset(metrics).load() == {"1": {"return": -0.002, "volatility": 0.031}}
