"""Validation: the mandatory quality gate between ingestion and the primary bars."""

from rps_kedro.pipelines.validation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
