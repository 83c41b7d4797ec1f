"""The features pipeline run by Kedro's runner on an in-memory catalog, profiling included."""

import pandas as pd
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from rps_kedro.datasets import PartitionedParquetDataset
from rps_kedro.pipelines.features import create_pipeline
from rps_kedro.pipelines.features.nodes import build_model_input


def test_pipeline_wires_the_nodes_by_name_in_its_namespace():
    nodes = {node.name: node for node in create_pipeline().nodes}
    build, profile = nodes["features.build_model_input"], nodes["features.profile_model_input"]
    assert build.inputs == ["primary_bars", "params:features"]  # datasets are not prefixed
    assert build.outputs == ["model_input"]
    assert profile.inputs == ["model_input", "params:data_profile"]
    assert profile.outputs == ["model_input_profile"]


def test_pipeline_builds_model_input_and_profiles_a_small_sample(
    feature_params, profile_params, simulated_bars, tmp_path
):
    catalog = DataCatalog()
    catalog["primary_bars"] = simulated_bars
    catalog["params:features"] = feature_params
    catalog["params:data_profile"] = {**profile_params, "sample_rows": 200, "sample_columns": 6}
    catalog["model_input"] = PartitionedParquetDataset(path=str(tmp_path / "model_input"))
    catalog["model_input_profile"] = MemoryDataset()
    SequentialRunner().run(create_pipeline(), catalog)
    whole = build_model_input(simulated_bars, feature_params)  # written one symbol at a time
    pd.testing.assert_frame_equal(
        catalog["model_input"].load(), whole.sort_values(["symbol", "timestamp"], ignore_index=True)
    )
    html = catalog["model_input_profile"].load()
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "ydata-profiling" in html
