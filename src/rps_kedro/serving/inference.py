"""The model's request path: checked bars in, predictions out, through the model bundle.

`Predictor` holds the registered model's `ForecastModel` (core/model.py), read from the MLflow
model's folder without loading the pipeline that wrote it, and calls the bundle's own steps on
numpy columns: `feature_matrix` at the latest of each symbol's last `lookback` bars (its
features depend on no earlier bar), then `predict_rows` for those bars. The answer
equals the logged model's `predict` for that bar (tests/serving checks it).

Several requests are computed in one call (batching.py); each is keyed `symbol|slot` so two
requests for the same symbol never share rows. The key keeps the symbol's pair separator, so
the market calendar still tells a crypto pair from a stock.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rps_kedro.core.bars import VALUE_COLUMNS
from rps_kedro.core.features import BarArrays
from rps_kedro.core.model import ForecastModel, Predictions, load_from_mlflow_model
from rps_kedro.serving.request_checks import BarColumns, InvalidInput, Loc, check_bars, error
from rps_kedro.serving.schemas import Bar, ErrorDetail
from rps_kedro.serving.settings import LimitSettings

MLFLOW_MODEL_FOLDER = "mlflow_model"  # where bentoml.mlflow.import_model puts the MLflow model
KEY_SEPARATOR = "|"  # not allowed in symbols (schemas.SYMBOL_PATTERN)
NS_PER_SECOND = 10**9
UNKNOWN_DATA_SOURCE = "unknown"  # a BentoML model imported without it (build.py writes it)
PREDICTED = ("predicted_close", "predicted_log_return", "predicted_volatility")


@dataclass(frozen=True)
class ModelInfo:
    """Which registered model version is served."""

    name: str
    version: str
    alias: str
    run_id: str = ""
    data_source: str = UNKNOWN_DATA_SOURCE  # where the prices it was trained on come from


@dataclass(frozen=True)
class Item:
    """One symbol to predict: its bars (already checked) and where it sits in the request."""

    symbol: str
    bars: BarColumns
    loc: tuple[str | int, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """A prediction (a dict of Prediction's fields) or the errors that prevented it."""

    prediction: dict[str, Any] | None = None
    errors: list[ErrorDetail] | None = None
    inference_seconds: float = 0.0
    baselines: dict[str, float] | None = None  # the baselines' forecasts, for the prediction log


def item_key(symbol: str, slot: int) -> str:
    return f"{symbol}{KEY_SEPARATOR}{slot:06d}"


def _utc_datetime(timestamp_ns: int) -> datetime:
    return datetime.fromtimestamp(timestamp_ns // NS_PER_SECOND, UTC)


def _names(joined: str) -> list[str]:
    return joined.split(",") if joined else []


class Predictor:
    """The served model bundle and the registry version it came from."""

    def __init__(self, model: ForecastModel, info: ModelInfo):
        self.model = model
        self.info = info
        self.calendar = model.calendar
        self.stock_range = self.calendar.next_bar_range()  # the session table, built at load
        self.lookback = model.lookback
        self.feature_names = list(model.feature_names)
        data_end = model.data_end  # rps_model_age_seconds counts from it (NaT: no example bars)
        self.data_end_seconds = math.nan if pd.isna(data_end) else data_end.timestamp()

    @classmethod
    def from_mlflow_model(cls, model_dir: str | Path, info: ModelInfo) -> Predictor:
        """From the folder of the logged MLflow model (its `forecast_model` artifact)."""
        return cls(load_from_mlflow_model(model_dir), info)

    def is_crypto(self, symbol: str) -> bool:
        return self.calendar.is_crypto(symbol)

    def items(
        self,
        requests: Sequence[tuple[str, list[Bar]]],
        locs: Sequence[Loc],
        limits: LimitSettings,
    ) -> list[Item]:
        """Checked items for (symbol, bars) pairs, or InvalidInput with every request's errors."""
        items, errors = [], []
        gaps = limits.max_gap_hours
        for (symbol, bars), loc in zip(requests, locs, strict=True):
            try:
                columns = check_bars(
                    bars,
                    lookback=self.lookback,
                    max_gap_hours=gaps.crypto if self.is_crypto(symbol) else gaps.stock,
                    limits=limits,
                    loc=loc,
                )
            except InvalidInput as invalid:
                errors += invalid.errors
                continue
            if calendar_errors := self._calendar_errors(symbol, columns, loc):
                errors += calendar_errors
                continue
            items.append(Item(symbol, columns, loc))
        if errors:
            raise InvalidInput(errors)
        return items

    def _calendar_errors(self, symbol: str, columns: BarColumns, loc: Loc) -> list[ErrorDetail]:
        """A stock's bars must be its exchange's session hours (24/7 bars belong to a crypto
        pair), and its latest bar needs a next session inside the calendar's range."""
        if self.is_crypto(symbol):
            return []
        first, last = self.stock_range
        stamps = columns.timestamp_ns
        if not first.value <= int(stamps[-1]) < last.value:
            return [
                error(
                    (*loc, "bars", len(stamps) - 1, "timestamp"),
                    f"outside the {self.calendar.exchange} calendar: a stock's latest bar must lie"
                    f" in [{first.isoformat()}, {last.isoformat()})",
                    "timestamp_range",
                )
            ]
        covered = stamps >= first.value
        outside = np.flatnonzero(covered)[~self.calendar.stock_bar_mask_ns(stamps[covered])]
        if not len(outside):
            return []
        return [
            error(
                (*loc, "symbol"),
                f"{symbol} is a stock: {len(outside)} of its bars (the first at"
                f" {_utc_datetime(int(stamps[outside[0]])).isoformat()}) are not"
                f" {self.calendar.exchange} session hours; 24/7 bars are a crypto pair's"
                " (BASE-QUOTE, e.g. BTC-USD)",
                "not_a_session_hour",
            )
        ]

    def bars(self, items: Sequence[Item]) -> tuple[BarArrays, np.ndarray]:
        """The items' last `lookback` bars as one set of columns, each item's rows keyed by
        `item_key` and in item order, and the row of each item's latest bar."""
        tails = [item.bars.tail(self.lookback) for item in items]
        lengths = np.array([len(tail.close) for tail in tails])
        keys = np.array([item_key(item.symbol, slot) for slot, item in enumerate(items)], object)
        arrays = BarArrays(
            symbol=np.repeat(keys, lengths),
            timestamp_ns=np.concatenate([tail.timestamp_ns for tail in tails]),
            **{
                column: np.concatenate([getattr(tail, column) for tail in tails])
                for column in VALUE_COLUMNS
            },
        )
        return arrays, np.cumsum(lengths) - 1

    def predict(self, items: Sequence[Item]) -> list[Outcome]:
        """One outcome per item, in order; features and predictions in one call for all."""
        started = time.perf_counter()
        bars, last_rows = self.bars(items)
        latest = self.model.feature_matrix(bars, at=last_rows)
        finite = np.isfinite(latest)
        usable = finite.all(axis=1)
        predictions = (
            self.model.predict_rows(bars, last_rows[usable], latest[usable])
            if usable.any()
            else None
        )
        seconds = time.perf_counter() - started
        outcomes, row = [], 0
        for item, ok, item_finite in zip(items, usable, finite, strict=True):
            if not ok:
                names = [n for n, f in zip(self.feature_names, item_finite, strict=True) if not f]
                outcomes.append(Outcome(errors=[_undefined_features(item, names)]))
                continue
            outcomes.append(self._outcome(item, predictions, row, seconds))
            row += 1
        return outcomes

    def _outcome(self, item: Item, predictions: Predictions, row: int, seconds: float) -> Outcome:
        values = {
            "close": float(predictions.close[row]),
            "predicted_close": float(predictions.predicted_close[row]),
            "predicted_log_return": float(predictions.predicted_log_return[row]),
            "predicted_volatility": float(predictions.predicted_volatility[row]),
        }
        if not np.isfinite([values[column] for column in PREDICTED]).all():
            return Outcome(
                errors=[
                    error(
                        (*item.loc, "bars"),
                        "the prediction for these bars is not a finite number: their values are"
                        " outside what the model can handle",
                        "prediction_not_finite",
                    )
                ]
            )
        prediction = {
            "symbol": item.symbol,
            "timestamp": _utc_datetime(int(predictions.timestamp_ns[row])),
            "prediction_for": _utc_datetime(int(predictions.prediction_for_ns[row])),
            **values,
            "out_of_range_share": float(predictions.out_of_range_share[row]),
            "out_of_range_features": _names(predictions.out_of_range_features[row]),
            "clipped_targets": _names(predictions.clipped_targets[row]),
            "model_version": self.info.version,
            "model_alias": self.info.alias,
            "data_source": self.info.data_source,
        }
        baselines = {name: float(values[row]) for name, values in predictions.baselines.items()}
        return Outcome(prediction=prediction, inference_seconds=seconds, baselines=baselines)


def _undefined_features(item: Item, names: list[str]) -> ErrorDetail:
    return error(
        (*item.loc, "bars"),
        f"the features {', '.join(names)} of the latest bar are not finite numbers for these"
        " bars (extreme or degenerate values)",
        "features_not_finite",
    )


def model_info(stored: Any, default_name: str, default_alias: str) -> ModelInfo:
    """The registry version a BentoML model was imported from (build.py writes its metadata)."""
    metadata = stored.info.metadata
    return ModelInfo(
        name=str(metadata.get("registered_name", default_name)),
        version=str(metadata.get("version", stored.tag.version)),
        alias=str(metadata.get("alias", default_alias)),
        run_id=str(metadata.get("run_id", "")),
        data_source=str(metadata.get("data_source", UNKNOWN_DATA_SOURCE)),
    )


def example_items(model: ForecastModel) -> list[Item]:
    """The bundle's example bars (a few symbols, as logged with the model) as items."""
    example = model.example_bars
    items = []
    for symbol, rows in example.groupby("symbol", sort=True):
        stamps = rows["timestamp"].to_numpy(dtype="datetime64[ns]").view(np.int64)
        values = {column: rows[column].to_numpy(dtype=float) for column in VALUE_COLUMNS}
        items.append(Item(str(symbol), BarColumns(stamps, **values)))
    return [item for item in items if len(item.bars.close) >= model.lookback]


def stored_model_folder(stored: Any) -> Path:
    """The MLflow model's folder inside a BentoML-stored model."""
    return Path(stored.path_of(MLFLOW_MODEL_FOLDER))


def load_predictor(model_dir: Path, info: ModelInfo, executor: Executor) -> Predictor:
    """Load the bundle of an MLflow model's folder, predict its example bars once on the
    inference thread (one-off costs paid before serving; a model that cannot predict them
    raises here, before it serves), then take the loaded objects out of the garbage
    collector's way: they live as long as they serve, and a full collection over them would
    stall requests for hundreds of milliseconds (a model swapped out is released: `unfreeze`
    first, its collection paid here, in the loading thread)."""
    predictor = Predictor.from_mlflow_model(model_dir, info)
    warm_up = example_items(predictor.model)
    if warm_up:
        executor.submit(predictor.predict, warm_up).result()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    return predictor
