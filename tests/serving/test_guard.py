"""The ASGI guard in front of the prediction routes: size, media type, outcome counting."""

from __future__ import annotations

import asyncio
import warnings

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from rps_kedro.serving.guard import RequestGuard, outcome_of

LIMIT = 100


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    status = int(request.query_params.get("status", 200))
    return JSONResponse({"received": len(body)}, status_code=status)


@pytest.fixture
def guarded():
    outcomes: list[str] = []
    app = Starlette(
        routes=[Route("/predict", echo, methods=["POST"]), Route("/other", echo, methods=["POST"])]
    )
    app.add_middleware(
        RequestGuard, paths=frozenset({"/predict"}), max_bytes=LIMIT, on_rejected=outcomes.append
    )
    with warnings.catch_warnings():  # starlette's TestClient on httpx is deprecated, not gone
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient  # noqa: PLC0415

    with TestClient(app) as client:
        yield client, outcomes


def test_bodies_within_the_limit_pass_through(guarded):
    client, outcomes = guarded
    response = client.post(
        "/predict", content=b"x" * LIMIT, headers={"Content-Type": "application/json"}
    )
    assert response.json() == {"received": LIMIT} and outcomes == []


def test_an_oversized_body_gets_413_by_content_length_and_when_chunked(guarded):
    client, outcomes = guarded
    response = client.post(
        "/predict", content=b"x" * (LIMIT + 1), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413 and response.json()["detail"][0]["loc"] == ["body"]

    def chunks():
        for _ in range(5):
            yield b"x" * 30

    response = client.post(
        "/predict", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    small = client.post("/predict", content=iter([b"x" * 30, b"y" * 30]))
    assert small.json() == {"received": 60}
    assert outcomes == ["invalid", "invalid"]


def test_a_body_that_is_not_json_gets_415(guarded):
    client, outcomes = guarded
    response = client.post("/predict", content=b"a,b", headers={"Content-Type": "text/csv"})
    assert response.status_code == 415
    assert response.json()["detail"][0]["loc"] == ["header", "content-type"]
    assert (
        client.post(
            "/predict", content=b"{}", headers={"Content-Type": "application/json; charset=utf-8"}
        ).status_code
        == 200
    )
    assert outcomes == ["invalid"]


def test_answers_of_the_routes_are_counted_by_outcome_and_other_paths_are_left_alone(guarded):
    client, outcomes = guarded
    json = {"Content-Type": "application/json"}
    for status in (200, 400, 503, 500):
        client.post(f"/predict?status={status}", content=b"{}", headers=json)
    client.post("/other", content=b"x" * (LIMIT + 1), headers={"Content-Type": "text/csv"})
    assert outcomes == ["invalid", "unavailable", "error"]


def test_outcomes_by_status():
    assert [outcome_of(s) for s in (200, 404, 413, 503, 504)] == [
        None,
        "invalid",
        "invalid",
        "unavailable",
        "error",
    ]


def test_a_client_that_leaves_mid_upload_is_counted_as_aborted_and_gets_no_answer():
    outcomes, sent, reached = [], [], []

    async def app(scope, receive, send) -> None:
        reached.append(scope["path"])

    guard = RequestGuard(
        app, paths=frozenset({"/predict"}), max_bytes=LIMIT, on_rejected=outcomes.append
    )
    messages = iter(
        [
            {"type": "http.request", "body": b'{"symbol": "BTC', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )

    async def receive() -> dict:
        return next(messages)

    async def send(message) -> None:
        sent.append(message)

    headers = [(b"content-type", b"application/json"), (b"content-length", b"60")]
    asyncio.run(guard({"type": "http", "path": "/predict", "headers": headers}, receive, send))
    assert outcomes == ["aborted"] and sent == [] and reached == []
