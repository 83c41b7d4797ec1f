"""Features pipeline fixtures: the project's features and data profile parameters."""

from __future__ import annotations

import pytest

from tests.conftest import project_parameters


@pytest.fixture
def feature_params() -> dict:
    """The `features:` parameters of the project."""
    return project_parameters()["features"]


@pytest.fixture
def profile_params() -> dict:
    """The `data_profile:` parameters of the project."""
    return project_parameters()["data_profile"]
