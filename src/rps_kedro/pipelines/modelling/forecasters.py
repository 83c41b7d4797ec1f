"""Forecasters with one interface (fit on model_input rows, predict both targets): the
scikit-learn candidates and the naive baselines they must beat."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.base import RegressorMixin, clone
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

PREDICTION_COLUMNS = ["predicted_log_return", "predicted_volatility"]


class Forecaster(Protocol):
    """Anything that learns from model_input rows and predicts both next-hour targets."""

    def fit(self, frame: pd.DataFrame) -> Forecaster: ...

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame: ...


def make_estimator(spec: dict[str, Any]) -> RegressorMixin:
    """A scikit-learn regressor from a parameters entry (`kind` plus its hyper-parameters)."""
    settings = {key: value for key, value in spec.items() if key != "kind"}
    if spec["kind"] == "ridge":
        return make_pipeline(StandardScaler(), Ridge(**settings))
    if spec["kind"] == "hist_gradient_boosting":
        return HistGradientBoostingRegressor(**settings)
    raise ValueError(
        f"unknown estimator kind {spec['kind']!r}: use ridge or hist_gradient_boosting"
    )


def _predictions(
    frame: pd.DataFrame, log_return: np.ndarray, volatility: np.ndarray
) -> pd.DataFrame:
    return pd.DataFrame(
        {"predicted_log_return": log_return, "predicted_volatility": volatility}, index=frame.index
    )


@dataclass
class RegressionForecaster:
    """One regressor for the log return, one for log volatility (back-transformed with smearing)."""

    feature_columns: list[str]
    return_estimator: RegressorMixin
    volatility_estimator: RegressorMixin
    volatility_floor: float
    volatility_smearing: float = 1.0
    description: dict[str, str] = field(default_factory=dict)

    def fit(self, frame: pd.DataFrame) -> RegressionForecaster:
        """Fit both regressors; Duan's smearing corrects the log-volatility back-transform."""
        features = frame[self.feature_columns].to_numpy()
        self.return_estimator = clone(self.return_estimator).fit(
            features, frame["target_log_return"]
        )
        log_volatility = np.log(np.maximum(frame["target_volatility"], self.volatility_floor))
        self.volatility_estimator = clone(self.volatility_estimator).fit(features, log_volatility)
        residuals = log_volatility - self.volatility_estimator.predict(features)
        self.volatility_smearing = float(np.mean(np.exp(residuals)))
        return self

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Next-hour log return and volatility for each row."""
        features = frame[self.feature_columns].to_numpy()
        volatility = np.exp(self.volatility_estimator.predict(features)) * self.volatility_smearing
        return _predictions(frame, self.return_estimator.predict(features), volatility)


@dataclass
class PersistenceForecaster:
    """The naive forecast: next return 0 (next close = close), next volatility = this bar's."""

    volatility_feature: str

    def fit(self, frame: pd.DataFrame) -> PersistenceForecaster:
        """Nothing to learn."""
        return self

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Zero return and the current bar's volatility."""
        return _predictions(frame, np.zeros(len(frame)), frame[self.volatility_feature].to_numpy())


@dataclass
class HarForecaster:
    """HAR (Corsi 2009) for volatility: linear in 1 h, 24 h and 168 h realised volatility (logs).

    It forecasts volatility only; its return forecast is persistence (0)."""

    har_features: list[str]
    volatility_floor: float
    model: LinearRegression = field(default_factory=LinearRegression)
    smearing: float = 1.0

    def _design(self, frame: pd.DataFrame) -> np.ndarray:
        return np.log(np.maximum(frame[self.har_features].to_numpy(), self.volatility_floor))

    def fit(self, frame: pd.DataFrame) -> HarForecaster:
        """Least squares of next log volatility on the log HAR components."""
        target = np.log(np.maximum(frame["target_volatility"], self.volatility_floor))
        self.model = LinearRegression().fit(self._design(frame), target)
        self.smearing = float(np.mean(np.exp(target - self.model.predict(self._design(frame)))))
        return self

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Zero return and the HAR volatility forecast."""
        volatility = np.exp(self.model.predict(self._design(frame))) * self.smearing
        return _predictions(frame, np.zeros(len(frame)), volatility)


def build_candidates(params: dict[str, Any], feature_columns: list[str]) -> dict[str, Forecaster]:
    """Every configured candidate (same estimator kind for both targets) plus the baselines."""
    floor = params["volatility_floor"]
    candidates: dict[str, Forecaster] = {
        name: RegressionForecaster(
            feature_columns,
            make_estimator(spec),
            make_estimator(spec),
            floor,
            description={"return": name, "volatility": name},
        )
        for name, spec in params["candidates"].items()
    }
    candidates["persistence"] = PersistenceForecaster(params["persistence_volatility_feature"])
    candidates["har"] = HarForecaster(params["har_features"], floor)
    return candidates


BASELINES = ("persistence", "har")
