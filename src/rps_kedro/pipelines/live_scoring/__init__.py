"""Live scoring: served forecasts joined with what happened, skill vs the baselines."""

from rps_kedro.pipelines.live_scoring.pipeline import create_pipeline

__all__ = ["create_pipeline"]
