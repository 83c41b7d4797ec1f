"""Live scoring pipeline: prediction log + recent primary bars -> scored forecasts -> live
metrics -> the Pushgateway (beside each model version's test skill) and the MLflow registry."""

from kedro.pipeline import Pipeline, node

from rps_kedro.pipelines.live_scoring.nodes import (
    collect_predictions,
    live_metric_samples,
    live_metrics,
    registry_live_skill,
    score_predictions,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Read the recent prediction log, join it with the realised bars, compute live metrics."""
    return Pipeline(
        [
            node(
                collect_predictions,
                inputs=["prediction_log", "params:live_scoring"],
                outputs="logged_forecasts",
                name="collect_logged_predictions",
            ),
            node(
                score_predictions,
                inputs=["logged_forecasts", "recent_primary_bars", "params:live_scoring"],
                outputs="scored_predictions",
                name="score_predictions",
            ),
            node(
                live_metrics,
                inputs=["scored_predictions", "params:live_scoring"],
                outputs="live_metrics",
                name="compute_live_metrics",
            ),
            node(
                live_metric_samples,
                inputs=["live_metrics", "scored_predictions", "model_test_skill"],
                outputs="live_metrics_pushgateway",
                name="push_live_metrics",
            ),
            node(
                registry_live_skill,
                inputs=["live_metrics", "scored_predictions", "params:live_scoring"],
                outputs="live_skill_registry",
                name="log_live_skill_to_registry",
            ),
        ],
        namespace="live_scoring",  # one collapsible group in Kedro-Viz, one Airflow task
        prefix_datasets_with_namespace=False,
    )
