"""Features pipeline: primary bars -> model_input (built and written one symbol at a time) ->
its data profile."""

from kedro.pipeline import Pipeline, node

from rps_kedro.pipelines.features.nodes import model_input_by_symbol, profile_model_input


def create_pipeline(**kwargs) -> Pipeline:
    """Build model_input from the primary bars, then profile a sample of it."""
    return Pipeline(
        [
            node(
                model_input_by_symbol,
                inputs=["primary_bars", "params:features"],
                outputs="model_input",
                name="build_model_input",
            ),
            node(
                profile_model_input,
                inputs=["model_input", "params:data_profile"],
                outputs="model_input_profile",
                name="profile_model_input",
            ),
        ],
        namespace="features",  # one collapsible group in Kedro-Viz, one Airflow task
        prefix_datasets_with_namespace=False,
    )
