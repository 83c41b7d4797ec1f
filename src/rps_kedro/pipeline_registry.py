"""Project pipelines: one per stage, `data_refresh` for the hourly schedule, and the default
that goes from bars to a registered model (a kedro-mlflow PipelineML, so the model is logged).

The stages are listed explicitly rather than discovered: `kedro run --pipelines X` makes Kedro's
`find_pipelines` load only X, and the composite pipelines need every stage.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline

from rps_kedro.pipelines import features, ingestion, modelling, validation
from rps_kedro.pipelines.modelling.pipeline import as_model_pipeline, create_training_pipeline


def register_pipelines() -> dict[str, Pipeline]:
    """Every stage, the data refresh chain (ingestion -> validation -> features) and the default."""
    data_refresh = (
        ingestion.create_pipeline() + validation.create_pipeline() + features.create_pipeline()
    )
    return {
        "ingestion": ingestion.create_pipeline(),
        "validation": validation.create_pipeline(),
        "features": features.create_pipeline(),
        "modelling": modelling.create_pipeline(),
        "data_refresh": data_refresh,
        "__default__": as_model_pipeline(data_refresh + create_training_pipeline()),
    }
