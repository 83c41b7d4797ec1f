"""The benchmark's reference: the same model behind a minimal FastAPI + uvicorn app.

`uvicorn benchmarks.fastapi_reference:app` (the model: the BentoML store's
`<store_name>:latest`, loaded at start-up). It shares the service's request models, checks and
model call (inference.py), so the benchmark compares the serving layers: per request, in
FastAPI's thread pool, with no batching across requests and no metrics. Not for production.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from rps_kedro.serving.settings import settings

SETTINGS = settings()
os.environ.setdefault("OMP_NUM_THREADS", str(SETTINGS.service.inference_threads))

from fastapi import FastAPI  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402

from rps_kedro.serving.batching import inference_executor  # noqa: E402
from rps_kedro.serving.inference import (  # noqa: E402
    Predictor,
    load_predictor,
    model_info,
    stored_model_folder,
)
from rps_kedro.serving.request_checks import InvalidInput  # noqa: E402
from rps_kedro.serving.schemas import ErrorResponse, Prediction, PredictRequest  # noqa: E402

state: dict[str, Predictor] = {}


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    import bentoml  # noqa: PLC0415

    stored = bentoml.models.get(f"{SETTINGS.model.store_name}:latest")
    info = model_info(stored, SETTINGS.model.registered_name, SETTINGS.model.alias)
    with inference_executor(SETTINGS.service.inference_threads) as warm_up:
        state["predictor"] = load_predictor(stored_model_folder(stored), info, warm_up)
    yield
    state.clear()


app = FastAPI(title="rps-kedro reference", lifespan=lifespan)


@app.get("/readyz")
def readyz() -> dict[str, bool]:
    return {"ready": "predictor" in state}


@app.post("/predict", response_model=Prediction)
def predict(request: PredictRequest) -> Prediction | JSONResponse:
    predictor = state["predictor"]
    try:
        items = predictor.items([(request.symbol, request.bars)], [()], SETTINGS.limits)
    except InvalidInput as invalid:
        body = ErrorResponse(error="invalid bars", detail=invalid.errors)
        return JSONResponse(body.model_dump(mode="json"), status_code=400)
    outcome = predictor.predict(items)[0]
    if outcome.errors:
        body = ErrorResponse(error="bars the model cannot use", detail=outcome.errors)
        return JSONResponse(body.model_dump(mode="json"), status_code=400)
    return Prediction.model_construct(**outcome.prediction)
