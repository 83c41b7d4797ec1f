"""The model's request path: bars in, predictions out, through the training code.

`Predictor` holds what the logged MLflow model (kedro-mlflow's KedroPipelineModel of the
inference pipeline) carries: the fitted forecaster, the drift reference and the parameters. It
runs the same two functions as that pipeline, `compute_features` and `predict_next_hour`, on a
frame built straight in the bars contract (what `from_model_input` would return), and only on
the last `required_lookback` bars of each symbol: the features of the latest bar depend on no
earlier bar, so the answer equals the pyfunc's for that bar (tests/serving checks it).

Several requests are computed in one call (batching.py); each is keyed `symbol|slot` so two
requests for the same symbol never share rows. The key keeps the symbol's pair separator, so
the market calendar still tells a crypto pair from a stock.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rps_kedro.core.features import compute_features, required_lookback
from rps_kedro.core.market_calendar import MarketCalendar
from rps_kedro.pipelines.modelling.nodes import predict_next_hour
from rps_kedro.serving.schemas import Bar, ErrorDetail
from rps_kedro.serving.settings import LimitSettings
from rps_kedro.serving.validation import BarColumns, InvalidInput, Loc, check_bars, error

MLFLOW_MODEL_FOLDER = "mlflow_model"  # where bentoml.mlflow.import_model puts the MLflow model
KEY_SEPARATOR = "|"  # not allowed in symbols (schemas.SYMBOL_PATTERN)
VALUE_COLUMNS = ("open", "high", "low", "close", "volume")
PREDICTED = ("predicted_close", "predicted_log_return", "predicted_volatility")


@dataclass(frozen=True)
class ModelInfo:
    """Which registered model version is served."""

    name: str
    version: str
    alias: str
    run_id: str = ""


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


def item_key(symbol: str, slot: int) -> str:
    return f"{symbol}{KEY_SEPARATOR}{slot:06d}"


def _node_inputs(pipeline: Any, function: Any) -> list[str]:
    matches = [node for node in pipeline.nodes if node.func is function]
    if len(matches) != 1:
        raise ValueError(f"the model's inference pipeline has no single {function.__name__} node")
    return list(matches[0].inputs)


class Predictor:
    """The served model: the inference pipeline's artifacts and parameters, called directly."""

    def __init__(
        self,
        forecaster: Any,
        drift_reference: dict[str, Any],
        features_params: dict[str, Any],
        calendar_params: dict[str, Any],
        info: ModelInfo,
    ):
        self.forecaster = forecaster
        self.drift_reference = drift_reference
        self.features_params = features_params
        self.calendar_params = calendar_params
        self.calendar = MarketCalendar.from_params(calendar_params)
        self.stock_range = self.calendar.next_bar_range()  # the session table, built at load
        self.info = info
        self.lookback = required_lookback(features_params)
        self.feature_names = list(forecaster.feature_columns)

    @classmethod
    def from_pyfunc(cls, model: Any, info: ModelInfo) -> Predictor:
        """From `mlflow.pyfunc.load_model(...)` of the logged KedroPipelineModel."""
        pipeline_model = model.unwrap_python_model()
        catalog = pipeline_model.loaded_catalog
        pipeline = pipeline_model.pipeline
        features_inputs = _node_inputs(pipeline, compute_features)
        predict_inputs = _node_inputs(pipeline, predict_next_hour)
        forecaster, drift_reference, _, _, calendar = predict_inputs
        return cls(
            forecaster=catalog.load(forecaster),
            drift_reference=catalog.load(drift_reference),
            features_params=catalog.load(features_inputs[1]),
            calendar_params=catalog.load(calendar),
            info=info,
        )

    def is_crypto(self, symbol: str) -> bool:
        return self.calendar.is_crypto(symbol)

    def bars_frame(self, items: Sequence[Item]) -> tuple[pd.DataFrame, list[int]]:
        """The items' last `lookback` bars as one frame in the bars contract, sorted by
        (key, timestamp), and the row of each item's latest bar."""
        tails = [item.bars.tail(self.lookback) for item in items]
        keys = [item_key(item.symbol, slot) for slot, item in enumerate(items)]
        order = sorted(range(len(items)), key=keys.__getitem__)
        lengths = np.array([len(tails[i].close) for i in order])
        timestamps = np.concatenate([tails[i].timestamp_ns for i in order])
        frame = pd.DataFrame(
            {
                "symbol": np.repeat(np.array([keys[i] for i in order], dtype=object), lengths),
                "timestamp": pd.DatetimeIndex(timestamps.view("datetime64[ns]")).tz_localize("UTC"),
                **{
                    column: np.concatenate([getattr(tails[i], column) for i in order])
                    for column in VALUE_COLUMNS
                },
            }
        )
        last_rows = np.empty(len(items), dtype=np.int64)
        last_rows[order] = np.cumsum(lengths) - 1
        return frame, last_rows.tolist()

    def predict(self, items: Sequence[Item]) -> list[Outcome]:
        """One outcome per item, in order; features and predictions in one call for all."""
        started = time.perf_counter()
        bars, last_rows = self.bars_frame(items)
        features = compute_features(bars, self.features_params)
        latest = features.iloc[last_rows]
        finite = np.isfinite(latest[self.feature_names].to_numpy())
        usable = finite.all(axis=1)
        # predict_next_hour reads `bars` only for the close of the rows it predicts: give it
        # just those rows (the same closes, a smaller index to build).
        predictions = (
            predict_next_hour(
                self.forecaster,
                self.drift_reference,
                bars.iloc[last_rows],
                latest[usable],
                self.calendar_params,
            )
            if usable.any()
            else None
        )
        seconds = time.perf_counter() - started
        outcomes = []
        rows = iter([] if predictions is None else predictions.to_dict(orient="records"))
        for item, ok, item_finite in zip(items, usable, finite, strict=True):
            if not ok:
                names = [n for n, f in zip(self.feature_names, item_finite, strict=True) if not f]
                outcomes.append(Outcome(errors=[_undefined_features(item, names)]))
                continue
            outcomes.append(self._outcome(item, next(rows), seconds))
        return outcomes

    def _outcome(self, item: Item, row: dict[str, Any], seconds: float) -> Outcome:
        if not np.isfinite([row[column] for column in PREDICTED]).all():
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
        features = row["out_of_range_features"]
        prediction = {
            "symbol": item.symbol,
            "timestamp": row["timestamp"].to_pydatetime(),
            "prediction_for": row["prediction_for"].to_pydatetime(),
            "close": row["close"],
            "predicted_close": row["predicted_close"],
            "predicted_log_return": row["predicted_log_return"],
            "predicted_volatility": row["predicted_volatility"],
            "out_of_range_share": row["out_of_range_share"],
            "out_of_range_features": features.split(",") if features else [],
            "clipped_targets": row["clipped_targets"].split(",") if row["clipped_targets"] else [],
            "model_version": self.info.version,
            "model_alias": self.info.alias,
        }
        return Outcome(prediction=prediction, inference_seconds=seconds)


def request_items(
    predictor: Predictor,
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
                lookback=predictor.lookback,
                max_gap_hours=gaps.crypto if predictor.is_crypto(symbol) else gaps.stock,
                limits=limits,
                loc=loc,
            )
        except InvalidInput as invalid:
            errors += invalid.errors
            continue
        if calendar_errors := _calendar_errors(predictor, symbol, columns, loc):
            errors += calendar_errors
            continue
        items.append(Item(symbol, columns, loc))
    if errors:
        raise InvalidInput(errors)
    return items


def _calendar_errors(
    predictor: Predictor, symbol: str, columns: BarColumns, loc: Loc
) -> list[ErrorDetail]:
    """A stock's latest bar needs a next session inside the exchange calendar's range."""
    first, last = predictor.stock_range
    latest = int(columns.timestamp_ns[-1])
    if predictor.is_crypto(symbol) or first.value <= latest < last.value:
        return []
    return [
        error(
            (*loc, "bars", len(columns.timestamp_ns) - 1, "timestamp"),
            f"outside the {predictor.calendar.exchange} calendar: a stock's latest bar must lie"
            f" in [{first.isoformat()}, {last.isoformat()})",
            "timestamp_range",
        )
    ]


def _undefined_features(item: Item, names: list[str]) -> ErrorDetail:
    return error(
        (*item.loc, "bars"),
        f"the features {', '.join(names)} of the latest bar are not finite numbers for these"
        " bars (extreme or degenerate values)",
        "features_not_finite",
    )


def _limit_threads(threads: int) -> None:
    from threadpoolctl import threadpool_limits  # noqa: PLC0415

    threadpool_limits(limits=threads)


def inference_executor(threads: int) -> ThreadPoolExecutor:
    """The single thread that runs the model, its native thread pools limited to `threads`."""
    return ThreadPoolExecutor(
        max_workers=1,
        thread_name_prefix="rps-inference",
        initializer=_limit_threads,
        initargs=(threads,),
    )


def model_info(stored: Any, default_name: str, default_alias: str) -> ModelInfo:
    """The registry version a BentoML model was imported from (build.py writes its metadata)."""
    metadata = stored.info.metadata
    return ModelInfo(
        name=str(metadata.get("registered_name", default_name)),
        version=str(metadata.get("version", stored.tag.version)),
        alias=str(metadata.get("alias", default_alias)),
        run_id=str(metadata.get("run_id", "")),
    )


def example_items(path: str, lookback: int) -> list[Item]:
    """The MLflow model's logged input example (raw bars of a few symbols) as items."""
    from mlflow.models import Model  # noqa: PLC0415

    example = Model.load(path).load_input_example(path)
    items = []
    for symbol, rows in example.groupby("symbol", sort=True):
        stamps = rows["timestamp"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        values = {column: rows[column].to_numpy(dtype=float) for column in VALUE_COLUMNS}
        items.append(Item(str(symbol), BarColumns(stamps, **values)))
    return [item for item in items if len(item.bars.close) >= lookback]


def load_predictor(stored: Any, info: ModelInfo, executor: ThreadPoolExecutor) -> Predictor:
    """Load a BentoML-stored MLflow model, predict its input example once on the inference
    thread (one-off costs paid before serving), then take the loaded objects out of the
    garbage collector's way: they live as long as the process, and a full collection over
    them would stall requests for hundreds of milliseconds."""
    import bentoml  # noqa: PLC0415

    predictor = Predictor.from_pyfunc(bentoml.mlflow.load_model(stored), info)
    warm_up = example_items(stored.path_of(MLFLOW_MODEL_FOLDER), predictor.lookback)
    if warm_up:
        executor.submit(predictor.predict, warm_up).result()
    gc.collect()
    gc.freeze()
    return predictor
