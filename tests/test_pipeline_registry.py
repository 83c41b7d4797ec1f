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
    assert "recent_model_input" in outputs("data_refresh")
    assert "model_input_profile" in outputs("__default__")
    assert "model_input_profile" in outputs("features")  # the DVC stage's


def test_the_hourly_refresh_reads_and_writes_recent_bars_and_the_default_run_every_bar(pipelines):
    refresh, default = pipelines["data_refresh"], pipelines["__default__"]
    assert {"primary_bars", "model_input"}.isdisjoint(refresh.all_inputs() | refresh.all_outputs())
    assert {"recent_primary_bars", "recent_model_input"} <= refresh.all_outputs()
    assert {"primary_bars", "model_input"} <= default.all_outputs()
    assert "bars_history" in refresh.inputs() & default.inputs()  # recent bars in both
    # the gate's output feeds the refresh's features, forecast and live scoring
    readers = {node.namespace for node in refresh.nodes if "recent_primary_bars" in node.inputs}
    assert readers == {"features", "forecast", "live_scoring"}


def test_the_recent_bars_cover_every_lookback_of_the_hourly_run(parameters):
    from rps_kedro.config import load_config  # noqa: PLC0415
    from rps_kedro.core.features import required_lookback  # noqa: PLC0415
    from tests.conftest import PROJECT_ROOT  # noqa: PLC0415

    recent = load_config("globals", PROJECT_ROOT / "conf", "base")["recent_bars"]
    validation, spike = parameters["validation"], parameters["validation"]["spike"]
    hourly_days = max(validation["recent_days"], parameters["live_scoring"]["lookback_days"])
    assert recent >= validation["min_history_bars"]  # tells warming up from passed
    assert recent >= spike["window"] + spike["burst_window"] + spike["confirmation_bars"] + 1
    assert recent >= 24 * hourly_days + 1  # a crypto pair's bars of those days, and one before
    assert recent >= required_lookback(parameters["features"]) + 1  # the rows to rebuild
