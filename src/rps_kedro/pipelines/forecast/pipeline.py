"""Forecast pipeline: champion + recent primary bars -> forecasts -> latest forecasts, prediction
log."""

from kedro.pipeline import Pipeline, node

from rps_kedro.pipelines.forecast.nodes import (
    forecast_next_hour,
    latest_forecasts,
    prediction_log_partition,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Forecast every configured symbol's next bar, then publish and log the forecasts."""
    return Pipeline(
        [
            node(
                forecast_next_hour,
                inputs=[
                    "champion_bundle",
                    "recent_primary_bars",
                    "params:ingestion.symbols",
                    "params:forecast.fallback",
                ],
                outputs="forecasts",
                name="forecast_next_hour",
            ),
            node(
                latest_forecasts,
                inputs=["forecasts", "market_source"],
                outputs="latest_forecasts",
                name="publish_latest_forecasts",
            ),
            node(
                prediction_log_partition,
                inputs=["forecasts", "params:sharding"],
                outputs="prediction_log",
                name="log_scheduled_forecasts",
            ),
        ],
        namespace="forecast",  # one collapsible group in Kedro-Viz, one Airflow task
        prefix_datasets_with_namespace=False,
    )
