"""Ingestion: fetch new hourly bars from the market source and merge them with the history."""

from rps_kedro.pipelines.ingestion.pipeline import create_pipeline

__all__ = ["create_pipeline"]
