"""Ingestion pipeline: market source -> raw snapshot (versioned) -> merged bars."""

from kedro.pipeline import Pipeline, node

from rps_kedro.pipelines.ingestion.nodes import fetch_new_bars, merge_snapshot


def create_pipeline(**kwargs) -> Pipeline:
    """Fetch what is new since the history, save it as a snapshot, merge it into the history."""
    return Pipeline(
        [
            node(
                fetch_new_bars,
                inputs=["market_source", "bars_history", "params:ingestion.symbols"],
                outputs="raw_bars_snapshot",
                name="fetch_new_bars",
            ),
            node(
                merge_snapshot,
                inputs=["bars_history", "raw_bars_snapshot"],
                outputs="merged_bars",
                name="merge_snapshot",
            ),
        ],
        namespace="ingestion",  # one collapsible group in Kedro-Viz, one Airflow task
        prefix_datasets_with_namespace=False,
    )
