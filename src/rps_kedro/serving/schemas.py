"""Request and response models of the service (pydantic; they are its OpenAPI schema).

Pydantic checks each value on its own (types, finite and positive prices, sizes); the checks
that need several bars or the model (order, hourly spacing, OHLC consistency, enough bars for
the feature lookback) are in request_checks.py. Both answer 400 with the same body: `ErrorResponse`,
each error naming the field (`loc`) and the reason (`msg`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from rps_kedro.core.bar_rules import VALUE_BOUNDS
from rps_kedro.serving.settings import settings

LIMITS = settings().limits
SYMBOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.^=_-]*$"  # no "|": see inference.item_key

# BentoML publishes OpenAPI 3.0, where exclusiveMinimum is a flag next to minimum (JSON Schema
# 2020-12, pydantic's, makes it the bound itself) and `example` is singular: say it the 3.0 way.
OPENAPI_30_POSITIVE = {"minimum": 0, "exclusiveMinimum": True}
Price = Annotated[
    float,
    Field(
        **VALUE_BOUNDS["close"].field_constraint(),
        le=LIMITS.max_price,
        allow_inf_nan=False,
        strict=True,  # JSON numbers only: "101.5" or true is refused, never coerced
        json_schema_extra=OPENAPI_30_POSITIVE,
    ),
]
Volume = Annotated[
    float,
    Field(
        **VALUE_BOUNDS["volume"].field_constraint(),
        le=LIMITS.max_volume,
        allow_inf_nan=False,
        strict=True,
    ),
]
Symbol = Annotated[
    str,
    Field(
        min_length=1,
        max_length=LIMITS.max_symbol_length,
        pattern=SYMBOL_PATTERN,
        description="Ticker (AAPL) or crypto pair BASE-QUOTE (BTC-USD, trades 24/7).",
        json_schema_extra={"example": "BTC-USD"},
    ),
]


def first_errors(error: ValidationError, limit: int) -> ValidationError:
    """The error with its first `limit` details and a count of the rest: a list of 2000 bad
    bars must not become an 8000-entry answer."""
    details = error.errors()
    if len(details) <= limit:
        return error
    kept: list[InitErrorDetails] = [
        {"type": d["type"], "loc": d["loc"], "input": d["input"], "ctx": d.get("ctx", {})}
        for d in details[:limit]
    ]
    more = PydanticCustomError(
        "more_errors", "{count} more errors like these", {"count": len(details) - limit}
    )
    kept.append({"type": more, "loc": (), "input": None})
    try:
        return ValidationError.from_exception_data(error.title, kept)
    except (TypeError, ValueError, KeyError):  # an error type that cannot be rebuilt
        return error


def _capped(value: object, handler: ValidatorFunctionWrapHandler) -> object:
    try:
        return handler(value)
    except ValidationError as error:
        raise first_errors(error, LIMITS.max_reported_errors) from None


class Bar(BaseModel):
    """One hourly bar; `timestamp` is its start, UTC when no offset is given."""

    model_config = ConfigDict(extra="forbid")

    timestamp: datetime = Field(json_schema_extra={"example": "2025-05-31T23:00:00Z"})
    open: Price
    high: Price
    low: Price
    close: Price
    volume: Volume


class PredictRequest(BaseModel):
    """A symbol and its most recent hourly bars, oldest first (at least the model's lookback)."""

    model_config = ConfigDict(extra="forbid")

    symbol: Symbol
    bars: list[Bar] = Field(min_length=1, max_length=LIMITS.max_bars)

    _cap_errors = field_validator("bars", mode="wrap")(_capped)


class BatchRequest(BaseModel):
    """Several symbols at once, each with its own bars; answered in the same order."""

    model_config = ConfigDict(extra="forbid")

    requests: list[PredictRequest] = Field(min_length=1, max_length=LIMITS.max_symbols)

    _cap_errors = field_validator("requests", mode="wrap")(_capped)


class Prediction(BaseModel):
    """The next hour of one symbol, predicted at the close of its latest bar."""

    symbol: str
    timestamp: datetime = Field(description="Start of the latest bar given (UTC).")
    prediction_for: datetime = Field(
        description="Start of the bar predicted: the next hour, or the next session hour."
    )
    close: float = Field(description="Close of the latest bar.")
    predicted_close: float
    predicted_log_return: float
    predicted_volatility: float = Field(description="Garman-Klass volatility of the next bar.")
    out_of_range_share: float = Field(
        description="Share of this request's features outside the training reference bounds."
    )
    out_of_range_features: list[str]
    clipped_targets: list[str] = Field(
        description="Targets (log_return, volatility) whose learned forecast was clipped to the"
        " range seen in training: the model would otherwise have extrapolated."
    )
    model_version: str = Field(description="Version of the registered model that answered.")
    model_alias: str
    data_source: str = Field(
        description='Where the prices the model learned from come from: "simulated" (the embedded'
        " market simulator: SIMULATED data, not a market's) or the provider, e.g. alpha_vantage.",
        json_schema_extra={"example": "simulated"},
    )
    fallback: bool = Field(
        False,
        description="True when too many features were outside the training range: the"
        " predicted values are then a baseline's (no extrapolation), see fallback_reason.",
    )
    fallback_reason: str | None = None


class BatchResponse(BaseModel):
    predictions: list[Prediction]


class ErrorDetail(BaseModel):
    loc: list[str | int] = Field(description="Path of the field in the request body.")
    msg: str = Field(description="What is wrong with it.")
    type: str


class ErrorResponse(BaseModel):
    """The body of every 4xx answer (BentoML's pydantic errors have the same shape)."""

    error: str
    detail: list[ErrorDetail]
