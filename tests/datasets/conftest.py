"""Shared by the provider replay tests: the local HTTP server and the bars-contract check."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest
from werkzeug import Request, Response

from rps_kedro.bars import BAR_COLUMNS, VALUE_COLUMNS
from rps_kedro.datasets import ProviderError


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


def assert_timeout_retried(server, path: str, fetch, pattern: str, attempts: int = 3) -> None:
    """A server that stalls past the client's timeout: `fetch` retries `attempts` times, then
    raises a ProviderError matching `pattern`; the stalled handlers are released afterwards."""
    release = threading.Event()

    def stall(request: Request) -> Response:
        release.wait(5)
        return Response("{}", content_type="application/json")

    server.expect_request(path).respond_with_handler(stall)
    try:
        with pytest.raises(ProviderError, match=pattern):
            fetch()
    finally:
        release.set()
    deadline = time.monotonic() + 2  # let the single-threaded server drain the stale requests
    while len(server.log) < attempts and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(server.log) == attempts
