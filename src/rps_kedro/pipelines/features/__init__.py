"""Features: bars -> model_input (features + next-bar targets per symbol) and its data profile."""

from rps_kedro.pipelines.features.pipeline import create_pipeline

__all__ = ["create_pipeline"]
