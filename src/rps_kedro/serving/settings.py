"""The service's settings: `serving:` in conf/<env>/serving.yml, read by rps_kedro.config
(conf/base, then the run environment's overrides, key by key)."""

from __future__ import annotations

import os
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    field_validator,
)

from rps_kedro.config import BASE_ENV, load_config
from rps_kedro.core.model_names import REGISTERED_MODEL_NAME

CONF_SOURCE_VARIABLE = "RPS_CONF_SOURCE"  # a conf/ folder; default: ./conf, then the project's
ENV_VARIABLE = "KEDRO_ENV"
SETTINGS_FILE = "serving.yml"
BOUNDARY_THAT_ALERTS_NEED = 0.5  # monitoring/rules: "p95 inference latency above 500 ms"


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FollowRegistrySettings(_Settings):
    enabled: bool
    tracking_uri: str
    poll_seconds: PositiveFloat


class ModelSettings(_Settings):
    registered_name: str = REGISTERED_MODEL_NAME  # the MLflow model `make bento` imports
    alias: str
    store_name: str = REGISTERED_MODEL_NAME  # the BentoML store's; the service serves :latest
    follow_registry: FollowRegistrySettings
    age_update_seconds: PositiveFloat


class ServiceSettings(_Settings):
    workers: PositiveInt
    inference_threads: PositiveInt
    timeout_seconds: PositiveFloat
    model_wait_seconds: PositiveFloat
    access_log: bool


class GapSettings(_Settings):
    crypto: PositiveInt
    stock: PositiveInt


class LimitSettings(_Settings):
    max_request_bytes: PositiveInt
    max_bars: PositiveInt
    max_symbols: PositiveInt
    max_symbol_length: PositiveInt
    max_reported_errors: PositiveInt
    max_price: PositiveFloat
    max_price_move_factor: float = Field(gt=1)
    max_volume: PositiveFloat
    earliest_timestamp: datetime
    latest_timestamp: datetime
    max_gap_hours: GapSettings


class BatchingSettings(_Settings):
    enabled: bool
    max_batch_symbols: PositiveInt


class PredictionLogSettings(_Settings):
    enabled: bool
    directory: Path  # relative paths are from the service's working directory
    retention_days: PositiveInt


class ForecastSettings(_Settings):
    path: Path  # the forecast pipeline's latest_forecasts folder (relative: from the working dir)


class FallbackSettings(_Settings):
    max_out_of_range_share: float = Field(ge=0, le=1)
    baseline: Literal["persistence", "har"]


class DriftSettings(_Settings):
    window_requests: PositiveInt


class MetricSettings(_Settings):
    inference_latency_buckets: list[PositiveFloat] = Field(min_length=1)
    prediction_value_buckets: list[float] = Field(min_length=1)

    @field_validator("inference_latency_buckets", "prediction_value_buckets")
    @classmethod
    def _increasing(cls, buckets: list[float]) -> list[float]:
        if buckets != sorted(set(buckets)):
            raise ValueError("bucket boundaries must be strictly increasing")
        return buckets

    @field_validator("inference_latency_buckets")
    @classmethod
    def _has_alert_boundary(cls, buckets: list[float]) -> list[float]:
        if BOUNDARY_THAT_ALERTS_NEED not in buckets:
            raise ValueError(f"must contain {BOUNDARY_THAT_ALERTS_NEED} (the latency alert's)")
        return buckets


class ServingSettings(_Settings):
    model: ModelSettings
    service: ServiceSettings
    limits: LimitSettings
    batching: BatchingSettings
    drift: DriftSettings
    fallback: FallbackSettings
    metrics: MetricSettings
    prediction_log: PredictionLogSettings
    forecasts: ForecastSettings


def find_conf_source() -> Path:
    """$RPS_CONF_SOURCE, else the conf/ that ships with this code (the project's, or the one
    inside a Bento next to its src copy), else ./conf."""
    if configured := os.environ.get(CONF_SOURCE_VARIABLE):
        return Path(configured)
    candidates = [*(p / "conf" for p in Path(__file__).resolve().parents), Path.cwd() / "conf"]
    for candidate in candidates:
        if (candidate / BASE_ENV / SETTINGS_FILE).is_file():
            return candidate
    raise FileNotFoundError(
        f"no conf/{BASE_ENV}/{SETTINGS_FILE} next to {Path(__file__).parent} or in"
        f" {Path.cwd()}: set {CONF_SOURCE_VARIABLE} to the project's conf folder"
    )


def load_settings(conf_source: Path | None = None, env: str | None = None) -> ServingSettings:
    """The `serving:` settings of conf/base merged with conf/<env> (when that folder exists)."""
    conf_source = Path(conf_source or find_conf_source())
    serving = load_config("serving", conf_source, env or os.environ.get(ENV_VARIABLE))
    return ServingSettings.model_validate(serving["serving"])


@lru_cache(maxsize=1)
def settings() -> ServingSettings:
    """The settings of this process, read once."""
    return load_settings()
