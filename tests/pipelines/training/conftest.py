"""Training fixtures: model_input split by time."""

import pandas as pd
import pytest

from rps_kedro.pipelines.training.nodes import split_by_time


@pytest.fixture
def splits(model_input, parameters) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train, tuning and test by time."""
    return split_by_time(model_input, parameters["modelling"]["split"])
