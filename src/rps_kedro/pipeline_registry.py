"""Project pipelines: one per stage, `data_refresh` for the hourly schedule, and the default
that goes from bars to a registered model (a kedro-mlflow PipelineML, so the model is logged)."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from rps_kedro.pipelines.modelling.pipeline import as_model_pipeline, create_training_pipeline

DATA_REFRESH = ["ingestion", "validation", "features"]


def register_pipelines() -> dict[str, Pipeline]:
    """Register every pipeline under pipelines/, the data refresh chain and the default."""
    pipelines = find_pipelines(raise_errors=True)
    data_refresh = sum((pipelines[name] for name in DATA_REFRESH), start=Pipeline([]))
    pipelines["data_refresh"] = data_refresh
    pipelines["__default__"] = as_model_pipeline(data_refresh + create_training_pipeline())
    return pipelines
