"""Project pipelines: one per stage, `data_refresh` for the hourly schedule (new bars to the
champion's forecasts), `modelling` (training + promotion + reporting) and the default that goes
from bars to a registered model (both kedro-mlflow PipelineMLs, so the model is logged).

The stages are listed explicitly rather than discovered: `kedro run --pipelines X` makes Kedro's
`find_pipelines` load only X, and the composite pipelines need every stage.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline

from rps_kedro.pipelines import (
    features,
    forecast,
    ingestion,
    live_scoring,
    promotion,
    reporting,
    training,
    validation,
)
from rps_kedro.pipelines.training.pipeline import as_model_pipeline


def register_pipelines() -> dict[str, Pipeline]:
    """Every stage, the data refresh chain (ingestion -> validation -> features -> forecast ->
    live scoring), the modelling chain (training -> promotion -> reporting) and the default
    (new bars to a registered model)."""
    bars_to_features = (
        ingestion.create_pipeline() + validation.create_pipeline() + features.create_pipeline()
    )
    # The hourly refresh skips the data profile (a minute of ydata-profiling each hour): the
    # default run and the features stage make it.
    profile = features.create_pipeline().only_nodes("features.profile_model_input")
    forecast_and_score = forecast.create_pipeline() + live_scoring.create_pipeline()
    # The hourly refresh reads and writes each symbol's recent bars only: the gate's output and
    # the features' input and output become the recent views of the same partitions
    # (conf/base/catalog.yml), so its cost does not grow with the length of the history.
    refresh = Pipeline(
        bars_to_features - profile + forecast_and_score,
        outputs={"primary_bars": "recent_primary_bars", "model_input": "recent_model_input"},
    )
    modelling = (
        training.create_pipeline() + promotion.create_pipeline() + reporting.create_pipeline()
    )
    return {
        "ingestion": ingestion.create_pipeline(),
        "validation": validation.create_pipeline(),
        "features": features.create_pipeline(),
        "training": training.create_pipeline(),
        "promotion": promotion.create_pipeline(),
        "reporting": reporting.create_pipeline(),
        "forecast": forecast.create_pipeline(),
        "live_scoring": live_scoring.create_pipeline(),
        "modelling": as_model_pipeline(modelling),
        "data_refresh": refresh,
        "__default__": as_model_pipeline(bars_to_features + modelling),
    }
