"""Promotion: decide whether the challenger becomes the registry's champion."""

from rps_kedro.pipelines.promotion.pipeline import create_pipeline

__all__ = ["create_pipeline"]
