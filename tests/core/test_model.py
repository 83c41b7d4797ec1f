"""The model contract: `ForecastModel.predict` on bars, the request path's steps giving the same
answer for the latest bar, and the bundle read back from an MLflow model folder."""

import pickle

import numpy as np
import pandas as pd
import pytest
import yaml

from rps_kedro.core.bars import as_model_input, conform_bars
from rps_kedro.core.features import BarArrays, feature_columns
from rps_kedro.core.forecasters import Forecaster, build_candidates, fit_candidate
from rps_kedro.core.model import ForecastModel, ModelFormatError, load_from_mlflow_model
from rps_kedro.core.model_names import MODEL_ARTIFACT
from rps_kedro.datasets import SimulatedMarketDataset
from rps_kedro.pipelines.features.nodes import build_model_input
from rps_kedro.pipelines.training.nodes import build_drift_reference
from tests.conftest import SIMULATION_END, SYMBOLS

BASELINES_SERVED = {"return": "persistence", "volatility": "har"}


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    """60 days of bars of the simulated symbols."""
    simulator = SimulatedMarketDataset(
        seed=7, origin="2025-01-01", end=SIMULATION_END, backfill_hours=24 * 60
    )
    return conform_bars(pd.concat([simulator.fetch(symbol) for symbol in SYMBOLS]))


@pytest.fixture(scope="module")
def model(bars, parameters) -> ForecastModel:
    """The baselines fitted on the bars, bundled like training does."""
    features, modelling = parameters["features"], parameters["modelling"]
    model_input = build_model_input(bars, features)
    columns = feature_columns(features)
    candidates = build_candidates(modelling, columns)
    models = {
        name: fit_candidate(candidates[name], model_input, 1) for name in ("persistence", "har")
    }
    forecaster = Forecaster(
        columns, models, BASELINES_SERVED, dict.fromkeys(BASELINES_SERVED, "test")
    )
    reference = build_drift_reference(model_input, model_input.head(0), modelling, features)
    return ForecastModel.build(forecaster, features, reference, as_model_input(bars.head(10)))


def test_predict_answers_every_bar_with_a_full_lookback(model, bars):
    predictions = model.predict(as_model_input(bars))
    expected_rows = bars.groupby("symbol").size() - model.lookback + 1
    assert predictions.groupby("symbol").size().to_dict() == expected_rows.to_dict()
    assert (predictions["prediction_for"] > predictions["timestamp"]).all()
    np.testing.assert_allclose(
        predictions["predicted_close"],
        predictions["close"] * np.exp(predictions["predicted_log_return"]),
    )


def test_the_request_path_gives_the_latest_bars_prediction_of_predict(model, bars):
    latest = model.predict(as_model_input(bars)).groupby("symbol").tail(1).reset_index(drop=True)
    arrays = BarArrays.from_frame(bars)
    last_rows = np.flatnonzero(np.r_[arrays.symbol[1:] != arrays.symbol[:-1], True])
    features = model.feature_matrix(arrays, at=last_rows)
    served = model.predict_rows(arrays, last_rows, features).to_frame()
    pd.testing.assert_frame_equal(served, latest, rtol=1e-12)


def _mlflow_folder(folder, artifacts: dict) -> None:
    (folder / "artifacts").mkdir(parents=True)
    flavor = {"python_function": {"artifacts": artifacts, "loader_module": "mlflow.pyfunc.model"}}
    (folder / "MLmodel").write_text(yaml.safe_dump({"flavors": flavor}))


def test_the_bundle_is_read_from_an_mlflow_model_folder(model, bars, tmp_path):
    path = "artifacts/forecast_model.pkl"
    _mlflow_folder(tmp_path, {MODEL_ARTIFACT: {"path": path, "uri": "elsewhere"}})
    (tmp_path / path).write_bytes(pickle.dumps(model))
    loaded = load_from_mlflow_model(tmp_path)
    pd.testing.assert_frame_equal(
        loaded.predict(as_model_input(bars)), model.predict(as_model_input(bars))
    )


def test_a_folder_without_a_bundle_of_this_format_is_refused(tmp_path):
    _mlflow_folder(tmp_path / "old", {"forecaster": {"path": "artifacts/forecaster.pkl"}})
    with pytest.raises(ModelFormatError, match="no 'forecast_model' artifact"):
        load_from_mlflow_model(tmp_path / "old")
    _mlflow_folder(tmp_path / "other", {MODEL_ARTIFACT: {"path": "artifacts/m.pkl"}})
    (tmp_path / "other/artifacts/m.pkl").write_bytes(pickle.dumps({"not": "a model"}))
    with pytest.raises(ModelFormatError, match="retrain"):
        load_from_mlflow_model(tmp_path / "other")
