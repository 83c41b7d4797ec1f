"""Reporting: model comparison, model card, figures and the metrics logged with the model's run."""

from rps_kedro.pipelines.reporting.pipeline import create_pipeline

__all__ = ["create_pipeline"]
