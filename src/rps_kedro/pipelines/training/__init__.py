"""Training: walk-forward evaluation against baselines and the model bundle, logged with kedro-mlflow."""

from rps_kedro.pipelines.training.pipeline import create_pipeline

__all__ = ["create_pipeline"]
