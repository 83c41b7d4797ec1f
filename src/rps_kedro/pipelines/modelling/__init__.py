"""Modelling: walk-forward evaluation against baselines, tracked and registered with kedro-mlflow."""

from rps_kedro.pipelines.modelling.pipeline import create_pipeline

__all__ = ["create_pipeline"]
