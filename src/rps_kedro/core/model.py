"""The model contract: `ForecastModel`, the one versioned object that training produces, the
logged MLflow model runs and the service loads.

    model.predict(bars) -> predictions

`bars` are hourly bars of one or more symbols in the bars contract (naive timestamps are UTC).
The answer has one row per bar whose features are all defined (the symbol's `lookback` bars are
met), sorted by (symbol, timestamp): the bar time each prediction is for (`prediction_for`, the
next bar: the next hour, or a stock's next session hour), the close, the predicted log return,
close and volatility, the share and names of the features outside the drift reference's bounds,
the targets whose learned forecast was clipped to its training range, and each baseline's
forecast of each target (`persistence_log_return`, `har_volatility`, ...: what live scoring
compares the served forecast with).

The service calls the same steps on numpy columns (`feature_matrix` at the latest bar of each
symbol, then `predict_rows`), without a DataFrame on the request path. The bundle is stored
as the `forecast_model` artifact of the MLflow model: `load_from_mlflow_model` reads it from the
model's folder without loading kedro, kedro-mlflow or the pipeline that wrote it.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from rps_kedro.core.bars import KEY_COLUMNS, from_model_input
from rps_kedro.core.drift import out_of_range, reference_bounds
from rps_kedro.core.features import BarArrays, feature_arrays, required_lookback, sort_bars
from rps_kedro.core.forecasters import (
    CLIPPED_COLUMNS,
    PREDICTION_COLUMNS,
    TARGETS,
    FeatureRows,
    Forecaster,
)
from rps_kedro.core.market_calendar import HOUR_NS, MarketCalendar
from rps_kedro.core.model_names import MODEL_ARTIFACT

MODEL_FORMAT = 1  # raise when the bundle's fields change meaning
PREDICTION_ORDER = [
    *KEY_COLUMNS,
    "prediction_for",
    "close",
    "predicted_log_return",
    "predicted_close",
    "predicted_volatility",
    "out_of_range_share",
    "out_of_range_features",
    "clipped_targets",
]


class ModelFormatError(ValueError):
    """A stored model is not a ForecastModel this code can serve."""


def _utc(timestamp_ns: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(timestamp_ns, dtype="datetime64[ns, UTC]")


@dataclass(frozen=True)
class Predictions:
    """One row per predicted bar, as columns (see the module docstring for their meaning)."""

    symbol: np.ndarray
    timestamp_ns: np.ndarray
    prediction_for_ns: np.ndarray
    close: np.ndarray
    predicted_log_return: np.ndarray
    predicted_close: np.ndarray
    predicted_volatility: np.ndarray
    out_of_range_share: np.ndarray
    out_of_range_features: list[str]
    clipped_targets: list[str]
    baselines: dict[str, np.ndarray] = field(default_factory=dict)  # `<baseline>_<target>`

    def to_frame(self) -> pd.DataFrame:
        """The predictions as the logged model's output frame (tz-aware UTC times)."""
        columns = {
            "symbol": self.symbol,
            "timestamp": _utc(self.timestamp_ns),
            "prediction_for": _utc(self.prediction_for_ns),
            **{name: getattr(self, name) for name in PREDICTION_ORDER[3:]},
            **self.baselines,
        }
        return pd.DataFrame(columns)


@dataclass(frozen=True)
class ForecastModel:
    """The served forecaster per target, the feature spec, the drift reference, the market
    calendar and the lookback, with an example of its input (the warm-up bars)."""

    forecaster: Forecaster
    features: dict[str, Any]
    drift_reference: dict[str, Any]
    calendar: MarketCalendar
    lookback: int
    example_bars: pd.DataFrame
    format_version: int = field(default=MODEL_FORMAT)

    @classmethod
    def build(
        cls,
        forecaster: Forecaster,
        features: dict[str, Any],
        drift_reference: dict[str, Any],
        example_bars: pd.DataFrame,
    ) -> ForecastModel:
        """Bundle what training produced; the calendar and lookback follow from the features."""
        return cls(
            forecaster=forecaster,
            features=features,
            drift_reference=drift_reference,
            calendar=MarketCalendar.from_params(features["calendar"]),
            lookback=required_lookback(features),
            example_bars=from_model_input(example_bars),
        )

    @property
    def data_end(self) -> pd.Timestamp:
        """When the data the model was built from ends: the end of its latest bar (the example
        bars are the latest primary bars of training)."""
        return pd.Timestamp(self.example_bars["timestamp"].max()) + pd.Timedelta(hours=1)

    @property
    def feature_names(self) -> list[str]:
        """The forecaster's feature columns, in order."""
        return self.forecaster.feature_columns

    @cached_property
    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return reference_bounds(self.drift_reference, self.feature_names)

    def feature_matrix(self, bars: BarArrays, at: np.ndarray | None = None) -> np.ndarray:
        """Features (rows x feature_names) of every bar, or of the bars at rows `at`; NaN where
        a lookback is not met."""
        columns = feature_arrays(bars, self.features, at)
        # np.array(...).T: several times faster than column_stack for a few rows of 59 columns
        return np.ascontiguousarray(np.array([columns[name] for name in self.feature_names]).T)

    def predict_rows(self, bars: BarArrays, rows: np.ndarray, features: np.ndarray) -> Predictions:
        """Predictions for the given rows of `bars`, from their features (one row each)."""
        feature_rows = FeatureRows(features, self.feature_names)
        forecast = self.forecaster.forecast(feature_rows)
        outside = out_of_range(features, *self._bounds)
        names = np.asarray(self.feature_names)
        clipped = np.column_stack([forecast[CLIPPED_COLUMNS[target]] for target in TARGETS])
        targets = np.array([PREDICTION_COLUMNS[t].removeprefix("predicted_") for t in TARGETS])
        symbol, timestamp_ns, close = bars.symbol[rows], bars.timestamp_ns[rows], bars.close[rows]
        log_return = forecast[PREDICTION_COLUMNS["return"]]
        return Predictions(
            symbol=symbol,
            timestamp_ns=timestamp_ns,
            prediction_for_ns=self.next_bar_ns(symbol, timestamp_ns),
            close=close,
            predicted_log_return=log_return,
            predicted_close=close * np.exp(log_return),
            predicted_volatility=forecast[PREDICTION_COLUMNS["volatility"]],
            out_of_range_share=outside.mean(axis=1),
            out_of_range_features=[",".join(names[row]) for row in outside],
            clipped_targets=[",".join(targets[row]) for row in clipped],
            baselines=self.forecaster.baseline_forecasts(feature_rows),
        )

    def next_bar_ns(self, symbol: np.ndarray, timestamp_ns: np.ndarray) -> np.ndarray:
        """Start of each bar's next bar (UTC epoch nanoseconds): the next hour for a crypto pair,
        the calendar's next session hour for a stock (only stocks need the calendar's table)."""
        upcoming = timestamp_ns + HOUR_NS
        stock = np.flatnonzero([not self.calendar.is_crypto(str(name)) for name in symbol])
        if len(stock):
            upcoming[stock] = self.calendar.next_stock_bar_ns(timestamp_ns[stock])
        return upcoming

    def predict(self, bars: pd.DataFrame) -> pd.DataFrame:
        """The contract: bars of one or more symbols -> one prediction per bar with a full
        lookback (see the module docstring)."""
        arrays = BarArrays.from_frame(sort_bars(from_model_input(bars)))
        features = self.feature_matrix(arrays)
        rows = np.flatnonzero(~np.isnan(features).any(axis=1))
        return self.predict_rows(arrays, rows, features[rows]).to_frame()


def load_model(path: str | Path) -> ForecastModel:
    """A pickled ForecastModel, checked to be one of this format."""
    with open(path, "rb") as stored:
        model = pickle.load(stored)  # noqa: S301 (our own artifact, from the model registry)
    if not isinstance(model, ForecastModel) or model.format_version != MODEL_FORMAT:
        raise ModelFormatError(
            f"{path} holds {type(model).__name__} format"
            f" {getattr(model, 'format_version', '?')}, not ForecastModel format {MODEL_FORMAT}:"
            " retrain and register the model with this code"
        )
    return model


def load_from_mlflow_model(model_dir: str | Path) -> ForecastModel:
    """The ForecastModel inside a logged MLflow model's folder (its `forecast_model` artifact)."""
    model_dir = Path(model_dir)
    flavor = yaml.safe_load((model_dir / "MLmodel").read_text())["flavors"]["python_function"]
    artifacts = flavor.get("artifacts") or {}
    if MODEL_ARTIFACT not in artifacts:
        raise ModelFormatError(
            f"the MLflow model in {model_dir} has no {MODEL_ARTIFACT!r} artifact"
            f" (it has {sorted(artifacts)}): retrain and register the model with this code"
        )
    return load_model(model_dir / artifacts[MODEL_ARTIFACT]["path"])
