"""The registered pipelines: every stage a Kedro namespace, the hourly refresh without the data
profile, the default pipeline from bars to a registered model."""

import pytest
from kedro.framework.project import configure_project

from rps_kedro.pipeline_registry import register_pipelines

STAGES = {"ingestion", "validation", "features", "training", "promotion", "reporting"}


@pytest.fixture(scope="module")
def pipelines():
    configure_project("rps_kedro")
    return register_pipelines()


def test_every_node_belongs_to_its_stages_namespace(pipelines):
    assert {node.namespace for node in pipelines["__default__"].nodes} == STAGES
    assert {node.namespace for node in pipelines["data_refresh"].nodes} == {
        "ingestion",
        "validation",
        "features",
        "forecast",
        "live_scoring",
    }


def test_the_hourly_refresh_skips_the_data_profile_and_the_default_run_makes_it(pipelines):
    def outputs(name: str) -> set[str]:
        return set(pipelines[name].all_outputs())

    assert "model_input_profile" not in outputs("data_refresh")
    assert "model_input" in outputs("data_refresh")
    assert "model_input_profile" in outputs("__default__")
    assert "model_input_profile" in outputs("features")  # the DVC stage's
