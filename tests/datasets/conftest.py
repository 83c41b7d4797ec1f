"""Shared by the provider replay tests: the local HTTP server and the bars-contract check."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pytest
from werkzeug import Request, Response

from rps_kedro.core.bars import BAR_COLUMNS, VALUE_COLUMNS
from rps_kedro.datasets import DeadlineExceededError, ProviderError
from tests.support.servers import wait_until


@pytest.fixture
def server(httpserver_ipv4):
    """pytest-httpserver on 127.0.0.1, replaying recorded provider payloads."""
    return httpserver_ipv4


def assert_bars_contract(bars: pd.DataFrame) -> None:
    """One row per (symbol, timestamp), UTC hour starts, float64 values, sorted."""
    assert list(bars.columns) == BAR_COLUMNS
    assert str(bars["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert all(str(bars[column].dtype) == "float64" for column in VALUE_COLUMNS)
    assert bars["symbol"].dtype == object
    assert (bars["timestamp"] == bars["timestamp"].dt.floor("h")).all()
    assert bars["timestamp"].is_monotonic_increasing
    assert not bars.duplicated(["symbol", "timestamp"]).any()


def queries(server) -> list[dict[str, str]]:
    """The query parameters of every request the server received."""
    return [dict(request.args) for request, _ in server.log]


def stalling(release: threading.Event) -> Callable[[Request], Response]:
    """A handler that sends nothing until released."""

    def stall(request: Request) -> Response:
        release.wait(5)
        return Response("{}", content_type="application/json")

    return stall


def dripping(
    release: threading.Event, interval: float = 0.1, drips: int = 100
) -> Callable[[Request], Response]:
    """A handler that answers at once, then sends one body byte per `interval` until released
    (at most `drips` bytes: a client without a deadline gets `[ ... ]` instead of hanging)."""

    def drip_body() -> Iterator[bytes]:
        yield b"["
        for _ in range(drips):
            if release.wait(interval):
                break
            yield b" "
        yield b"]"

    def drip(request: Request) -> Response:
        return Response(drip_body(), content_type="application/json")

    return drip


@contextlib.contextmanager
def held_responses(
    server, path: str, handler: Callable[[threading.Event], Callable[[Request], Response]]
) -> Iterator[None]:
    """Serve `path` with a stalling or dripping handler; release every held response on exit."""
    release = threading.Event()
    server.expect_request(path).respond_with_handler(handler(release))
    try:
        yield
    finally:
        release.set()


def assert_requests_drained(server, count: int) -> None:
    """Wait until the single-threaded server has logged `count` requests, and no more."""
    wait_until(lambda: len(server.log) >= count, timeout=2, interval=0.01, what="requests")
    assert len(server.log) == count


def assert_timeout_retried(server, path: str, fetch, pattern: str, attempts: int = 3) -> None:
    """A server that stalls past the client's timeout: `fetch` retries `attempts` times, then
    raises a ProviderError matching `pattern`; the stalled handlers are released afterwards."""
    with held_responses(server, path, stalling), pytest.raises(ProviderError, match=pattern):
        fetch()
    assert_requests_drained(server, attempts)


def assert_deadline_exceeded(server, path: str, fetch, prefix: str, deadline: float) -> None:
    """A server that drips a byte faster than the per-read timeout: `fetch` fails once, on its
    overall deadline, and does not retry."""
    with held_responses(server, path, dripping), pytest.raises(DeadlineExceededError) as raised:
        fetch()
    message = str(raised.value)
    assert message.startswith(f"{prefix}: overall deadline of {deadline:g}s exceeded"), message
    assert "while reading the response" in message
    assert_requests_drained(server, 1)


def assert_refused(server, path: str, body: Any, fetch, pattern: str) -> ProviderError:
    """A payload served once: `fetch` raises a plain ProviderError matching `pattern` (not an
    AttributeError/KeyError/TypeError from parsing) and does not retry."""
    server.expect_request(path).respond_with_json(body)
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the type is what is checked
        fetch()
    assert type(raised.value) is ProviderError, repr(raised.value)
    assert raised.match(pattern)
    assert len(server.log) == 1
    return raised.value
