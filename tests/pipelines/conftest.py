"""Fixtures of the modelling pipelines (training, promotion, reporting): light parameters, the
model_input of simulated bars, and the in-memory catalog their pipeline tests run on."""

import pandas as pd
import pytest
from kedro.io import AbstractDataset, DataCatalog

from rps_kedro.core.bars import empty_bars
from rps_kedro.datasets import SimulatedMarketDataset
from rps_kedro.pipelines.features.nodes import build_model_input
from rps_kedro.pipelines.validation.nodes import check_bars_quality
from tests.conftest import SIMULATION_END, SYMBOLS, project_parameters


class NoChampion(AbstractDataset[None, None]):
    """The champion_model of a fresh registry: loads None (a MemoryDataset cannot hold None)."""

    def load(self) -> None:
        return None

    def save(self, data: None) -> None:
        raise NotImplementedError("read-only")

    def _describe(self) -> dict:
        return {}


@pytest.fixture
def modelling_params(parameters) -> dict:
    """`modelling:` with a lighter backtest and boosting so unit tests stay quick."""
    params = {**parameters["modelling"], "backtest": {"folds": 2, "initial_train_fraction": 0.5}}
    params["candidates"] = {
        **params["candidates"],
        "gradient_boosting": {**params["candidates"]["gradient_boosting"], "max_iter": 30},
    }
    return params


@pytest.fixture
def model_input(simulated_bars, parameters) -> pd.DataFrame:
    """Features and targets of 120 days of simulated bars for four symbols."""
    return build_model_input(simulated_bars, parameters["features"])


@pytest.fixture(scope="module")
def gate_params() -> dict:
    """The project's validation parameters; 'now' is the end of the simulator's last bar."""
    config = project_parameters()["validation"]
    config["as_of"] = str(pd.Timestamp(SIMULATION_END, tz="UTC") + pd.Timedelta(hours=1))
    return config


@pytest.fixture
def modelling_catalog(
    simulated_bars, model_input, modelling_params, parameters, gate_params
) -> DataCatalog:
    """What the modelling pipelines read, in memory: bars, model_input, the gate's result, no
    champion yet, and the parameters (every output becomes a MemoryDataset)."""
    gate_result, _, _ = check_bars_quality(empty_bars(), simulated_bars, SYMBOLS, gate_params)
    catalog = DataCatalog()
    catalog["primary_bars"] = simulated_bars
    catalog["model_input"] = model_input
    catalog["validation_result"] = gate_result
    catalog["champion_model"] = NoChampion()
    catalog["market_source"] = SimulatedMarketDataset(seed=7)
    catalog["params:modelling"] = modelling_params
    for key in ("split", "inference", "importance"):
        catalog[f"params:modelling.{key}"] = modelling_params[key]
    catalog["params:features"] = parameters["features"]
    return catalog
