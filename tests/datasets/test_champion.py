"""The champion dataset: absent on a fresh registry, loaded by alias, skipped when unloadable."""

import logging
import sys

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from rps_kedro.datasets.champion import ChampionModelDataset

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*Add type hints to the `predict` method:UserWarning"
)

OLD_MODULE = """
import mlflow.pyfunc


class OldForecaster(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input):
        return model_input
"""


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """An embedded MLflow store in a temporary folder."""
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.create_experiment("champion", artifact_location=(tmp_path / "artifacts").as_uri())
    mlflow.set_experiment("champion")
    yield MlflowClient()
    mlflow.set_tracking_uri(None)


def _register_champion(module_dir, monkeypatch) -> None:
    """Log a model whose class lives in a module, register it and alias it champion."""
    (module_dir / "old_forecaster.py").write_text(OLD_MODULE)
    monkeypatch.syspath_prepend(str(module_dir))
    from old_forecaster import OldForecaster  # noqa: PLC0415

    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="model", python_model=OldForecaster())
    version = mlflow.register_model(info.model_uri, "rps_test")
    MlflowClient().set_registered_model_alias("rps_test", "champion", version.version)


def test_fresh_registry_has_no_champion(registry):
    assert ChampionModelDataset("rps_test").load() is None


def test_champion_loads_by_alias(registry, tmp_path, monkeypatch):
    _register_champion(tmp_path, monkeypatch)
    champion = ChampionModelDataset("rps_test").load()
    assert champion["version"] == 1
    frame = pd.DataFrame({"x": [1.0]})
    pd.testing.assert_frame_equal(champion["model"].predict(frame), frame)


def test_a_champion_this_code_cannot_load_is_skipped_with_a_warning(
    registry, tmp_path, monkeypatch, caplog
):
    _register_champion(tmp_path, monkeypatch)
    (tmp_path / "old_forecaster.py").unlink()  # the code that logged it is gone (a refactor)
    monkeypatch.delitem(sys.modules, "old_forecaster")
    with caplog.at_level(logging.WARNING):
        assert ChampionModelDataset("rps_test").load() is None
    assert "models:/rps_test@champion (version 1) cannot be loaded by this code" in caplog.text
    assert "comparing the challenger with the baselines only" in caplog.text
