"""Quality gate fixtures."""

import pytest


@pytest.fixture(scope="module")
def params(gate_params) -> dict:
    """The project's validation parameters, judged just after the simulator's last bar."""
    return gate_params
