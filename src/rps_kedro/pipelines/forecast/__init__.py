"""Forecast: the champion's next-hour forecast of every configured symbol, every hour."""

from rps_kedro.pipelines.forecast.pipeline import create_pipeline

__all__ = ["create_pipeline"]
