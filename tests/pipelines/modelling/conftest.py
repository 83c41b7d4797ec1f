"""Modelling fixtures: the project's parameters and model_input built from simulated bars."""

import pandas as pd
import pytest

from rps_kedro.pipelines.features.nodes import build_model_input
from rps_kedro.pipelines.modelling.nodes import split_by_time


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


@pytest.fixture
def splits(model_input, parameters) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train, tuning and test by time."""
    return split_by_time(model_input, parameters["modelling"]["split"])
