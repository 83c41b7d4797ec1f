"""Validation pipeline: merged bars -> result + report (always saved) -> gate -> primary bars."""

from kedro.pipeline import Pipeline, node

from rps_kedro.pipelines.validation.nodes import check_bars_quality, enforce_quality_gate


def create_pipeline(**kwargs) -> Pipeline:
    """Two nodes: the check saves its result and report; the gate stops the run on failure."""
    return Pipeline(
        [
            node(
                check_bars_quality,
                inputs=["merged_bars", "params:validation"],
                outputs=["validation_result", "validation_report"],
                name="check_bars_quality",
            ),
            node(
                enforce_quality_gate,
                inputs=["merged_bars", "validation_result"],
                outputs="primary_bars",
                name="enforce_quality_gate",
            ),
        ]
    )
