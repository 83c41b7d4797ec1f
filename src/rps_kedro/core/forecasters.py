"""Forecasters per target: the naive baselines (persistence, log-HAR) and learned regressors,
and `Forecaster`, the served model: per target, the candidate that won the selection rule.

Every candidate forecasts both targets (the baselines' return forecast is 0, "no change"), so
selection can treat baselines as candidates like any learned model. A `Forecaster` keeps the
fitted baselines beside the served models: it can always fall back to them per target.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.base import RegressorMixin, clone
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

TARGETS = ("return", "volatility")
TARGET_COLUMNS = {"return": "target_log_return", "volatility": "target_volatility"}
PREDICTION_COLUMNS = {"return": "predicted_log_return", "volatility": "predicted_volatility"}
CLIPPED_COLUMNS = {"return": "clipped_log_return", "volatility": "clipped_volatility"}
BASELINES = ("persistence", "har")
UNBOUNDED = (-np.inf, np.inf)


@dataclass(frozen=True)
class VolatilityFloor:
    """Per-row floor: a fraction of the symbol's trailing volatility level, never below `minimum`."""

    scale_feature: str
    fraction: float
    minimum: float

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> VolatilityFloor:
        """From `modelling.volatility_floor` in parameters."""
        return cls(params["scale_feature"], params["fraction"], params["minimum"])

    def of(self, frame: pd.DataFrame) -> np.ndarray:
        """The floor of each row (NaN scales fall back to the minimum)."""
        scale = np.nan_to_num(np.asarray(frame[self.scale_feature], dtype="float64"), nan=0.0)
        return np.maximum(self.fraction * scale, self.minimum)


@dataclass(frozen=True)
class FeatureRows:
    """Feature rows as a matrix that reads like a frame: `rows[name]` is a column and
    `rows[names]` a matrix (the request path gives forecasters this, not a DataFrame)."""

    values: np.ndarray
    names: list[str]

    def __len__(self) -> int:
        return len(self.values)

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {name: index for index, name in enumerate(self.names)}

    def __getitem__(self, key: str | list[str]) -> np.ndarray:
        """One column by name, or the matrix of the named columns."""
        positions = self._positions
        if isinstance(key, str):
            return self.values[:, positions[key]]
        if key == self.names:
            return self.values
        return self.values[:, [positions[name] for name in key]]


Rows = pd.DataFrame | FeatureRows


class TargetModel(Protocol):
    """Learns one target from model_input rows and forecasts it for other rows."""

    bounds: tuple[float, float]

    def fit(self, frame: pd.DataFrame) -> TargetModel: ...

    def predict(self, frame: pd.DataFrame) -> np.ndarray: ...


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


@dataclass
class NoChange:
    """Persistence of the close: the next log return is 0."""

    bounds: tuple[float, float] = UNBOUNDED

    def fit(self, frame: pd.DataFrame) -> NoChange:
        """Nothing to learn."""
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Zero for every row."""
        return np.zeros(len(frame))


@dataclass
class CurrentVolatility:
    """Persistence of volatility: the next bar's volatility is this bar's."""

    feature: str
    bounds: tuple[float, float] = UNBOUNDED

    def fit(self, frame: pd.DataFrame) -> CurrentVolatility:
        """Nothing to learn."""
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The current bar's volatility."""
        return np.asarray(frame[self.feature], dtype="float64")


@dataclass
class LogHar:
    """Log-HAR (Corsi 2009) with an intraday pattern, for the next bar's volatility:

    log v[t+1] = effect[slot] + b_bar log v_bar + b_day log v_day + b_week log v_week + e,

    the components being RMS volatility over one bar, one session/day and one week of the
    market's bars, and `slot` the market and hour in session of the bar (one intercept each,
    fitted on training rows; a slot never seen in training gets their row-weighted mean).
    Logs use the symbol-scaled floor, so one flat bar cannot collapse the forecast; the
    forecast is bias-corrected back to volatility with Duan's smearing factor."""

    components: list[str]
    slot_columns: list[str]
    floor: VolatilityFloor
    coefficients: np.ndarray = field(default_factory=lambda: np.zeros(0))
    slot_effects: dict[float, float] = field(default_factory=dict)
    default_effect: float = 0.0
    smearing: float = 1.0
    bounds: tuple[float, float] = UNBOUNDED

    def _slots(self, frame: pd.DataFrame) -> np.ndarray:
        """One number per (market, hour in session) combination."""
        market, hour = (np.asarray(frame[column], dtype="float64") for column in self.slot_columns)
        return market * 100 + hour

    def _design(self, frame: pd.DataFrame) -> np.ndarray:
        floor = self.floor.of(frame)[:, None]
        return np.log(np.maximum(np.asarray(frame[self.components], dtype="float64"), floor))

    def fit(self, frame: pd.DataFrame) -> LogHar:
        """Least squares of the next log volatility on the log components and slot dummies."""
        target = np.log(np.maximum(frame[TARGET_COLUMNS["volatility"]], self.floor.of(frame)))
        slots, position, counts = np.unique(
            self._slots(frame), return_inverse=True, return_counts=True
        )
        dummies = np.zeros((len(frame), len(slots)))
        dummies[np.arange(len(frame)), position] = 1.0
        design = np.hstack([self._design(frame), dummies])
        solution, *_ = np.linalg.lstsq(design, target.to_numpy(), rcond=None)
        width = len(self.components)
        self.coefficients = solution[:width]
        self.slot_effects = dict(zip(slots.tolist(), solution[width:].tolist(), strict=True))
        self.default_effect = float(np.average(solution[width:], weights=counts))
        self.smearing = float(np.mean(np.exp(target.to_numpy() - design @ solution)))
        return self

    def coefficient(self, component: str) -> float:
        """The fitted coefficient of one component."""
        return float(self.coefficients[self.components.index(component)])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Bias-corrected HAR volatility forecast for each row."""
        effects = np.array(
            [self.slot_effects.get(slot, self.default_effect) for slot in self._slots(frame)]
        )
        return np.exp(self._design(frame) @ self.coefficients + effects) * self.smearing


@dataclass
class LearnedTarget:
    """A scikit-learn regressor of one target on the features (log volatility for volatility,
    back-transformed with Duan's smearing). Its forecasts are clipped to the range of the target
    seen in training (`clip_quantiles`): a learned model never extrapolates past it."""

    target: str
    feature_columns: list[str]
    estimator: RegressorMixin
    floor: VolatilityFloor
    clip_quantiles: tuple[float, float]
    smearing: float = 1.0
    bounds: tuple[float, float] = UNBOUNDED

    def training_target(self, frame: pd.DataFrame) -> np.ndarray:
        """The values the regressor learns: the target, or its floored log for volatility."""
        values = frame[TARGET_COLUMNS[self.target]].to_numpy(dtype="float64")
        if self.target == "volatility":
            return np.log(np.maximum(values, self.floor.of(frame)))
        return values

    def fit(self, frame: pd.DataFrame) -> LearnedTarget:
        """Fit the regressor; record the training range and the smearing factor."""
        features = frame[self.feature_columns].to_numpy()
        target = self.training_target(frame)
        self.estimator = clone(self.estimator).fit(features, target)
        low, high = np.quantile(target, self.clip_quantiles)
        if self.target == "volatility":
            residuals = target - self.estimator.predict(features)
            self.smearing = float(np.mean(np.exp(residuals)))
            low, high = np.exp(low), np.exp(high)
        self.bounds = (float(low), float(high))
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The target for each row, before clipping."""
        predicted = self.estimator.predict(np.asarray(frame[self.feature_columns]))
        return np.exp(predicted) * self.smearing if self.target == "volatility" else predicted


Candidate = dict[str, TargetModel]


def build_candidates(params: dict[str, Any], feature_columns: list[str]) -> dict[str, Candidate]:
    """Unfitted candidates, baselines first: each maps every target to its model."""
    floor = VolatilityFloor.from_params(params["volatility_floor"])
    har = params["har"]
    clip = tuple(params["clip_quantiles"])
    candidates: dict[str, Candidate] = {
        "persistence": {
            "return": NoChange(),
            "volatility": CurrentVolatility(params["persistence_volatility_feature"]),
        },
        "har": {
            "return": NoChange(),
            "volatility": LogHar(har["components"], har["slot_columns"], floor),
        },
    }
    for name, spec in params["candidates"].items():
        candidates[name] = {
            target: LearnedTarget(target, feature_columns, make_estimator(spec), floor, clip)
            for target in TARGETS
        }
    return candidates


def fit_candidate(candidate: Candidate, frame: pd.DataFrame, threads: int) -> Candidate:
    """Fit every target's model on the same rows, with at most `threads` OpenMP threads:
    gradient boosting on all cores of a small, busy machine is several times slower than on one."""
    with threadpool_limits(limits=threads, user_api="openmp"):
        return {target: model.fit(frame) for target, model in candidate.items()}


def target_predictions(model: TargetModel, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """One target's forecast for each row, clipped to the model's bounds, and the clip flags."""
    raw = model.predict(frame)
    low, high = model.bounds
    return np.clip(raw, low, high), (raw < low) | (raw > high)


def candidate_columns(candidate: Candidate, frame: Rows) -> dict[str, np.ndarray]:
    """Each target's forecast by its model for each row, clipped, with the clip flags."""
    columns = {}
    for target, model in candidate.items():
        columns[PREDICTION_COLUMNS[target]], columns[CLIPPED_COLUMNS[target]] = target_predictions(
            model, frame
        )
    return columns


def candidate_predictions(candidate: Candidate, frame: pd.DataFrame) -> pd.DataFrame:
    """Each target's forecast by its model for each row of a frame, as a frame."""
    return pd.DataFrame(candidate_columns(candidate, frame), index=frame.index)


@dataclass
class Forecaster:
    """The served model: fitted candidates and, per target, which one is served and why."""

    feature_columns: list[str]
    models: dict[str, Candidate]
    served: dict[str, str]
    reasons: dict[str, str]

    def forecast(self, rows: Rows) -> dict[str, np.ndarray]:
        """Served forecast of both targets for each row (only the served model of each target
        runs), with the clip flags, as columns."""
        served = {target: self.models[self.served[target]][target] for target in TARGETS}
        return candidate_columns(served, rows)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Served forecast of both targets for each row of a frame, as a frame."""
        return pd.DataFrame(self.forecast(frame), index=frame.index)

    def baseline_forecasts(self, rows: Rows) -> dict[str, np.ndarray]:
        """Each baseline's forecast of each target for the rows (`persistence_log_return`,
        `har_volatility`, ...): what live scoring compares the served forecast with."""
        return {
            f"{name}_{column.removeprefix('predicted_')}": values
            for name in BASELINES
            for column, values in candidate_columns(self.models[name], rows).items()
            if column in PREDICTION_COLUMNS.values()
        }

    def predict_with(self, name: str, frame: pd.DataFrame) -> pd.DataFrame:
        """One fitted candidate's forecast of both targets."""
        return candidate_predictions(self.models[name], frame)

    def serving(self, target: str, name: str, reason: str) -> Forecaster:
        """A copy that serves `name` for `target`."""
        return replace(
            self,
            served={**self.served, target: name},
            reasons={**self.reasons, target: reason},
        )
