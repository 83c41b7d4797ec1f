"""Validation pipeline: history + merged bars -> result, report and quarantine (always saved) ->
gate -> primary bars grown by the symbols that passed."""

from kedro.pipeline import Pipeline, node

from rps_kedro.pipelines.validation.nodes import check_bars_quality, enforce_quality_gate


def create_pipeline(**kwargs) -> Pipeline:
    """Two nodes: the check saves its result, report and quarantine; the gate grows the primary
    bars, or stops the run when too many symbols failed."""
    return Pipeline(
        [
            node(
                check_bars_quality,
                inputs=[
                    "bars_history",
                    "merged_bars",
                    "params:ingestion.symbols",
                    "params:validation",
                ],
                outputs=["validation_result", "validation_report", "quarantined_bars"],
                name="check_bars_quality",
            ),
            node(
                enforce_quality_gate,
                inputs=["bars_history", "merged_bars", "validation_result"],
                outputs="primary_bars",
                name="enforce_quality_gate",
            ),
        ],
        namespace="validation",  # one collapsible group in Kedro-Viz, one Airflow task
        prefix_datasets_with_namespace=False,
    )
