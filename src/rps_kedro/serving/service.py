"""The champion as a BentoML service: POST /predict, POST /predict_batch, GET /forecast/{symbol}
(the latest scheduled forecast, forecasts.py), GET /metrics.

`make bento` imports the registry's `rps_kedro@champion` into the BentoML model store (build.py)
and builds the Bento; `make serve` serves it. Each worker loads the model in the background:
/livez answers at once, /readyz answers 503 until the model is loaded and has made one
prediction (the bundle's example bars), and a prediction request arriving meanwhile waits for it.

A request is validated by pydantic (schemas.py), then across its bars (request_checks.py), then
queued for the model (batching.py), which calls the registered model bundle's own feature and
predict steps (inference.py, core/model.py). Every bad input gets a 400 (413 for an oversized
body, 415 for a body that is not JSON) naming the field and the reason; nothing a client sends
gives a 5xx. Every answered forecast is appended to the prediction log (prediction_log.py).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rps_kedro.serving.settings import settings

SETTINGS = settings()
# Before scikit-learn loads its OpenMP runtime (with the model, in _load_model): on 2 cores,
# a single-row predict with an OpenMP team of threads per tree is 10x slower than with one.
os.environ.setdefault("OMP_NUM_THREADS", str(SETTINGS.service.inference_threads))

import anyio.to_thread  # noqa: E402
import bentoml  # noqa: E402
from pydantic import ValidationError  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402

from rps_kedro.core.fallback import with_fallback  # noqa: E402
from rps_kedro.serving.batching import MicroBatcher, inference_executor  # noqa: E402
from rps_kedro.serving.drift import DriftWindow  # noqa: E402
from rps_kedro.serving.forecasts import forecast_app  # noqa: E402
from rps_kedro.serving.guard import RequestGuard  # noqa: E402
from rps_kedro.serving.metrics import ServiceMetrics, process_metrics  # noqa: E402
from rps_kedro.serving.prediction_log import PredictionLog, request_rows  # noqa: E402
from rps_kedro.serving.request_checks import InvalidInput, Loc  # noqa: E402
from rps_kedro.serving.schemas import (  # noqa: E402
    Bar,
    BatchRequest,
    BatchResponse,
    ErrorDetail,
    ErrorResponse,
    Prediction,
    PredictRequest,
)

if TYPE_CHECKING:
    from rps_kedro.serving.inference import Item, ModelInfo, Outcome, Predictor

logger = logging.getLogger("rps_kedro.serving")
logger.setLevel(logging.INFO)


class _ClientErrorsWithoutTraceback(logging.Filter):
    """BentoML logs every pydantic 400 as an ERROR with its traceback and every field error (a
    bad 2000-bar list: thousands of lines). Bad input is the client's, answered and counted,
    not a server error: drop those records; real exceptions are still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, ValidationError)


logging.getLogger("bentoml._internal.server.http_app").addFilter(_ClientErrorsWithoutTraceback())
API_ROUTES = ("/predict", "/predict_batch")


@dataclass(frozen=True)
class Served:
    """The served model and the batcher that calls it."""

    predictor: Predictor
    batcher: MicroBatcher[Item, Outcome]


def _error_response(status: int, message: str, errors: list[ErrorDetail]) -> JSONResponse:
    body = ErrorResponse(error=message, detail=errors).model_dump(mode="json")
    return JSONResponse(body, status_code=status)


@bentoml.service(
    workers=SETTINGS.service.workers,
    traffic={"timeout": SETTINGS.service.timeout_seconds},
    logging={"access": {"enabled": SETTINGS.service.access_log}},
)
class RpsService:
    """Next-hour close, log return and volatility of a symbol from its recent hourly bars."""

    bento_model = bentoml.models.BentoModel(f"{SETTINGS.model.store_name}:latest")

    def __init__(self) -> None:
        self.metrics: ServiceMetrics = process_metrics(SETTINGS.metrics)
        self.drift = DriftWindow(SETTINGS.drift.window_requests)
        self.executor = inference_executor(SETTINGS.service.inference_threads)
        self.served: Served | None = None  # replaced as a whole: a request keeps the one it got
        self.load_error: str | None = None
        log = SETTINGS.prediction_log
        self.prediction_log = (
            PredictionLog(log.directory, retention_days=log.retention_days) if log.enabled else None
        )
        self._ready = threading.Event()
        threading.Thread(target=self._load_model, name="rps-model-load", daemon=True).start()
        threading.Thread(target=self._keep_model_age, name="rps-model-age", daemon=True).start()

    # --- model loading and readiness ----------------------------------------------------------

    def _load_model(self) -> None:
        started = time.perf_counter()
        try:
            # The model code (scikit-learn, pandas, the calendars) is imported here, in each
            # worker's loading thread, not with this module: `bentoml serve`'s main process
            # imports the module only to read the service's definition.
            from rps_kedro.serving.inference import (  # noqa: PLC0415
                load_predictor,
                model_info,
                stored_model_folder,
            )

            stored = self.bento_model
            info = model_info(stored, SETTINGS.model.registered_name, SETTINGS.model.alias)
            predictor = load_predictor(stored_model_folder(stored), info, self.executor)
        except Exception as exc:
            self.load_error = f"{type(exc).__name__}: {exc}"
            logger.exception("the model could not be loaded; /readyz stays 503")
            return
        self._serve(predictor)
        self._ready.set()
        logger.info(
            "model %s version %s (%s) ready in %.1f s: lookback %d bars, %d features; code from %s",
            info.name,
            info.version,
            info.alias,
            time.perf_counter() - started,
            predictor.lookback,
            len(predictor.feature_names),
            Path(__file__).resolve().parents[1],
        )
        if SETTINGS.model.follow_registry.enabled:
            self._follow_registry(info)

    def _serve(self, predictor: Predictor) -> None:
        """Serve `predictor` from now on (requests already running finish on the previous)."""
        batcher = MicroBatcher(
            predictor.predict,
            self.executor,
            max_items=SETTINGS.batching.max_batch_symbols,
            enabled=SETTINGS.batching.enabled,
        )
        replaced = self.served.predictor.info.version if self.served else None
        self.served = Served(predictor, batcher)
        info = predictor.info
        self.metrics.model_loaded(info.version, info.alias, predictor.feature_names, replaced)
        self._update_model_age()

    def _update_model_age(self) -> None:
        if (served := self.served) is not None:
            self.metrics.model_age.set(time.time() - served.predictor.data_end_seconds)

    def _keep_model_age(self) -> None:
        while True:
            time.sleep(SETTINGS.model.age_update_seconds)
            self._update_model_age()

    def _follow_registry(self, served: ModelInfo) -> None:
        """Poll the registry's alias for good (this is the loading thread)."""
        from rps_kedro.serving.inference import load_predictor  # noqa: PLC0415
        from rps_kedro.serving.model_follower import RegistryFollower  # noqa: PLC0415

        follow = SETTINGS.model.follow_registry
        follower = RegistryFollower(
            SETTINGS.model.registered_name,
            SETTINGS.model.alias,
            follow.tracking_uri,
            lambda folder, info: load_predictor(folder, info, self.executor),
            self._serve,
            served.version,
            served.data_source,
        )
        logger.info(
            "following %s@%s in %s every %.0f s",
            SETTINGS.model.registered_name,
            SETTINGS.model.alias,
            follow.tracking_uri,
            follow.poll_seconds,
        )
        while True:
            time.sleep(follow.poll_seconds)
            outcome = follower.poll()
            if outcome != "unchanged":
                self.metrics.model_updates.labels(outcome=outcome).inc()

    @bentoml.on_shutdown
    def close_prediction_log(self) -> None:
        """Write every queued prediction before the worker exits."""
        if self.prediction_log is not None:
            self.prediction_log.close()

    def __is_ready__(self) -> bool:
        return self._ready.is_set()

    async def _wait_for_model(self) -> JSONResponse | None:
        if not self._ready.is_set() and self.load_error is None:
            await anyio.to_thread.run_sync(self._ready.wait, SETTINGS.service.model_wait_seconds)
        if self._ready.is_set():
            return None
        reason = self.load_error or "the model is still loading"
        response = _error_response(
            503, "service unavailable", [ErrorDetail(loc=[], msg=reason, type="model_not_ready")]
        )
        response.headers["Retry-After"] = str(int(SETTINGS.service.model_wait_seconds))
        return response

    # --- the request path -------------------------------------------------------------------

    async def _predict(
        self, requests: Sequence[tuple[str, list[Bar]]], locs: Sequence[Loc]
    ) -> list[dict[str, Any]] | JSONResponse:
        if (unavailable := await self._wait_for_model()) is not None:
            return unavailable
        served = self.served  # this request's model, even if a new version is swapped in
        assert served is not None
        try:
            items = served.predictor.items(requests, locs, SETTINGS.limits)
        except InvalidInput as invalid:
            return _error_response(400, "invalid bars", invalid.errors)
        outcomes = await served.batcher.submit(items)
        errors = [e for outcome in outcomes for e in outcome.errors or []]
        if errors:
            return _error_response(400, "bars the model cannot use", errors)
        self.metrics.inference(max(outcome.inference_seconds for outcome in outcomes))
        predictions = []
        for outcome in outcomes:
            assert outcome.prediction is not None
            prediction = with_fallback(
                outcome.prediction, outcome.baselines or {}, **SETTINGS.fallback.model_dump()
            )
            self.metrics.predicted(prediction)
            self.metrics.drift_ratio.set(self.drift.add(prediction["out_of_range_share"]))
            predictions.append(prediction)
        if self.prediction_log is not None:
            forecasts = [(p, o.baselines or {}) for p, o in zip(predictions, outcomes, strict=True)]
            self.prediction_log.record(request_rows(forecasts, served.predictor.info.name))
        return predictions

    @bentoml.api(input_spec=PredictRequest)
    async def predict(self, symbol: str, bars: list[Bar]) -> Prediction:
        """Predict the next hour of one symbol from its recent hourly bars (oldest first)."""
        answer = await self._predict([(symbol, bars)], [()])
        if isinstance(answer, JSONResponse):
            return answer  # type: ignore[return-value]  (BentoML sends Responses as they are)
        return Prediction.model_construct(**answer[0])

    @bentoml.api(input_spec=BatchRequest)
    async def predict_batch(self, requests: list[PredictRequest]) -> BatchResponse:
        """Predict the next hour of several symbols at once (answers in the same order)."""
        locs = [("requests", index) for index in range(len(requests))]
        answer = await self._predict([(r.symbol, r.bars) for r in requests], locs)
        if isinstance(answer, JSONResponse):
            return answer  # type: ignore[return-value]
        return BatchResponse.model_construct(
            predictions=[Prediction.model_construct(**p) for p in answer]
        )


RpsService.add_asgi_middleware(
    RequestGuard,
    paths=frozenset(API_ROUTES),
    max_bytes=SETTINGS.limits.max_request_bytes,
    on_rejected=lambda outcome: process_metrics(SETTINGS.metrics).rejected(outcome),
)
RpsService.mount_asgi_app(forecast_app(SETTINGS.forecasts.path), path="/forecast")
