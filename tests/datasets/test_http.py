"""JsonHttpClient building blocks: backoff delays, Retry-After, secret redaction."""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import threading
from collections.abc import Iterator

import pytest
from werkzeug import Response

from rps_kedro.datasets._http import (
    DeadlineExceededError,
    JsonHttpClient,
    ProviderError,
    RateLimitError,
    RetryPolicy,
    SecretRedactingFilter,
)
from tests.datasets.conftest import assert_requests_drained, held_responses, stalling

SECRET = "SECRET-KEY-123"


@contextlib.contextmanager
def header_dripping_server(stop: threading.Event) -> Iterator[str]:
    """A raw HTTP server on loopback that sends its status line, then one header byte every
    50 ms (each read well inside any per-read timeout) until `stop` is set."""
    listener = socket.create_server(("127.0.0.1", 0))

    def drip() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while not stop.wait(0.05):
                connection.sendall(b"a")

    worker = threading.Thread(target=drip, daemon=True)
    worker.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        worker.join(timeout=5)
        listener.close()


def _accept(payload: object) -> None:
    """A payload check that accepts everything."""


def _client(
    server, sleeps: list[float], secret: str | None = None, deadline: float = 300, **retry: float
) -> JsonHttpClient:
    policy = {"max_attempts": 3, "base_delay": 0.01, "max_delay": 0.05, "timeout": 0.5, **retry}
    return JsonHttpClient(
        provider="test",
        base_url=server.url_for("/"),
        retry=RetryPolicy(**policy),
        deadline=deadline,
        secret=secret,
        sleep=sleeps.append,
        rng=random.Random(0),
    )


class TestRetryPolicyDelay:
    def test_backoff_doubles_within_jitter_band_and_is_capped(self):
        policy = RetryPolicy(base_delay=1.0, max_delay=10.0)
        rng = random.Random(1)
        for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (9, 10.0)]:
            delays = [policy.delay(attempt, None, rng) for _ in range(50)]
            assert all(ceiling / 2 <= d <= ceiling for d in delays), (attempt, delays)
            assert max(delays) > 0.9 * ceiling  # really spread over the band, not fixed

    def test_retry_after_is_honoured_exactly(self):
        policy = RetryPolicy(base_delay=1.0, max_delay=60.0)
        assert policy.delay(1, 7.0, random.Random(0)) == 7.0
        assert policy.delay(4, 0.0, random.Random(0)) == 0.0

    def test_retry_after_is_capped_by_max_delay(self):
        policy = RetryPolicy(base_delay=1.0, max_delay=60.0)
        assert policy.delay(1, 3600.0, random.Random(0)) == 60.0


class TestClientRetries:
    def test_429_retry_after_is_slept_then_success(self, httpserver_ipv4):
        httpserver_ipv4.expect_oneshot_request("/x").respond_with_data(
            "slow down", status=429, headers={"Retry-After": "2"}
        )
        httpserver_ipv4.expect_request("/x").respond_with_json({"ok": True})
        sleeps: list[float] = []
        client = _client(httpserver_ipv4, sleeps, max_delay=60.0)

        assert client.get_json("/x", {}, "SYM", _accept) == {"ok": True}
        assert sleeps == [2.0]
        assert len(httpserver_ipv4.log) == 2

    def test_retry_after_above_max_delay_is_capped(self, httpserver_ipv4):
        httpserver_ipv4.expect_oneshot_request("/x").respond_with_data(
            "banned", status=418, headers={"Retry-After": "3600"}
        )
        httpserver_ipv4.expect_request("/x").respond_with_json([1])
        sleeps: list[float] = []
        client = _client(httpserver_ipv4, sleeps, max_delay=30.0)

        assert client.get_json("/x", {}, "SYM", _accept) == [1]
        assert sleeps == [30.0]

    @pytest.mark.parametrize("header", ["-5", "nan", "Wed, 21 Oct 2015 07:28:00 GMT"])
    def test_unusable_retry_after_falls_back_to_backoff(self, httpserver_ipv4, header):
        httpserver_ipv4.expect_oneshot_request("/x").respond_with_data(
            "busy", status=503, headers={"Retry-After": header}
        )
        httpserver_ipv4.expect_request("/x").respond_with_json({"ok": 1})
        sleeps: list[float] = []
        client = _client(httpserver_ipv4, sleeps, base_delay=0.02, max_delay=0.05)

        assert client.get_json("/x", {}, "SYM", _accept) == {"ok": 1}
        assert len(sleeps) == 1
        assert 0.01 <= sleeps[0] <= 0.02

    def test_persistent_429_is_rate_limit_error_after_max_attempts(self, httpserver_ipv4):
        httpserver_ipv4.expect_request("/x").respond_with_data("no", status=429)
        sleeps: list[float] = []
        client = _client(httpserver_ipv4, sleeps)

        with pytest.raises(RateLimitError, match="test SYM: gave up after 3 attempts: HTTP 429"):
            client.get_json("/x", {}, "SYM", _accept)
        assert len(httpserver_ipv4.log) == 3
        assert len(sleeps) == 2  # no sleep after the last attempt

    def test_non_retryable_status_fails_at_once(self, httpserver_ipv4):
        httpserver_ipv4.expect_request("/x").respond_with_json({"detail": "nope"}, status=404)
        client = _client(httpserver_ipv4, [])

        with pytest.raises(ProviderError, match="HTTP 404") as raised:
            client.get_json("/x", {}, "SYM", _accept)
        assert not isinstance(raised.value, RateLimitError)
        assert len(httpserver_ipv4.log) == 1

    def test_error_body_is_redacted_before_truncation(self, httpserver_ipv4):
        # The secret straddles the 200-character cut: no fragment of it may survive.
        body = "x" * 192 + SECRET + " trailing"
        httpserver_ipv4.expect_request("/x").respond_with_response(Response(body, status=500))
        client = _client(httpserver_ipv4, [], secret=SECRET)

        with pytest.raises(ProviderError) as raised:
            client.get_json("/x", {}, "SYM", _accept)
        assert "SECRET" not in str(raised.value)
        assert "***" in str(raised.value)


class TestRedaction:
    def test_filter_rewrites_formatted_message(self):
        record = logging.LogRecord(
            "urllib3.connectionpool",
            logging.DEBUG,
            __file__,
            1,
            '%s "GET %s HTTP/1.1" %s',
            ("http://h:80", f"/query?apikey={SECRET}&a=1", 200),
            None,
        )
        assert SecretRedactingFilter(SECRET).filter(record) is True
        assert SECRET not in record.getMessage()
        assert record.getMessage() == 'http://h:80 "GET /query?apikey=***&a=1 HTTP/1.1" 200'

    def test_filter_leaves_other_records_untouched(self):
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "n=%d", (3,), None)
        SecretRedactingFilter(SECRET).filter(record)
        assert record.msg == "n=%d"
        assert record.args == (3,)

    def test_client_repr_and_redact_hide_the_secret(self):
        client = JsonHttpClient(provider="p", base_url="http://127.0.0.1:9", secret=SECRET)
        assert SECRET not in repr(client)
        assert client.redact(f"url?apikey={SECRET}") == "url?apikey=***"

    def test_urllib3_request_log_is_redacted(self, httpserver_ipv4, caplog):
        caplog.set_level(logging.DEBUG)
        caplog.set_level(logging.DEBUG, logger="urllib3")  # conf/logging.yml quiets it once loaded
        httpserver_ipv4.expect_request("/x").respond_with_json({"ok": True})
        client = _client(httpserver_ipv4, [], secret=SECRET)

        client.get_json("/x", {"apikey": SECRET}, "SYM", _accept)
        assert httpserver_ipv4.log[0][0].args["apikey"] == SECRET  # it really was sent
        request_lines = [r for r in caplog.records if "GET /x" in r.getMessage()]
        assert request_lines, "urllib3 should log the request line at DEBUG"
        # werkzeug is the fake provider's own access log (server side), not our client.
        client_records = [r for r in caplog.records if not r.name.startswith("werkzeug")]
        assert all(SECRET not in r.getMessage() for r in client_records)


class TestDeadline:
    def test_backoff_longer_than_the_time_left_fails_without_sleeping(self, httpserver_ipv4):
        httpserver_ipv4.expect_request("/x").respond_with_data("busy", status=503)
        sleeps: list[float] = []
        client = _client(httpserver_ipv4, sleeps, deadline=1, base_delay=10, max_delay=10)

        with pytest.raises(DeadlineExceededError) as raised:
            client.get_json("/x", {}, "SYM", _accept)

        assert str(raised.value).startswith(
            "test SYM: overall deadline of 1s exceeded before retry 1 (waiting "
        )
        assert str(raised.value).endswith("s): HTTP 503: busy")
        assert sleeps == []
        assert len(httpserver_ipv4.log) == 1

    def test_silent_server_fails_on_the_deadline_before_the_read_timeout(self, httpserver_ipv4):
        client = _client(httpserver_ipv4, [], deadline=0.3, timeout=5)

        with (
            held_responses(httpserver_ipv4, "/x", stalling),
            pytest.raises(DeadlineExceededError, match="deadline of 0.3s exceeded waiting for"),
        ):
            client.get_json("/x", {}, "SYM", _accept)
        assert_requests_drained(httpserver_ipv4, 1)

    def test_server_dripping_its_headers_fails_on_the_deadline(self):
        stop = threading.Event()
        with header_dripping_server(stop) as url:
            client = JsonHttpClient(
                provider="test",
                base_url=url,
                retry=RetryPolicy(max_attempts=3, timeout=5),
                deadline=0.5,
            )
            with pytest.raises(DeadlineExceededError) as raised:
                client.get_json("/x", {}, "SYM", _accept)
            stop.set()
        assert str(raised.value) == (
            "test SYM: overall deadline of 0.5s exceeded waiting for the response headers"
        )

    def test_requests_inside_one_scope_share_the_outer_deadline(self):
        client = JsonHttpClient(provider="p", base_url="http://127.0.0.1:9", deadline=60)
        with client.deadline_scope() as outer:
            with client.deadline_scope() as inner:
                assert inner is outer
            assert outer.seconds == 60
        with client.deadline_scope() as later:
            assert later is not outer

    def test_provider_refusal_is_redacted_and_names_the_symbol(self, httpserver_ipv4, caplog):
        caplog.set_level(logging.DEBUG)
        httpserver_ipv4.expect_request("/x").respond_with_json({"error": f"bad key {SECRET}"})
        client = _client(httpserver_ipv4, [], secret=SECRET)

        def refuse(payload: object) -> None:
            raise ProviderError("test", "*", f"rejected: {payload}")

        with pytest.raises(ProviderError) as raised:
            client.get_json("/x", {}, "SYM", refuse)
        assert str(raised.value) == "test SYM: rejected: {'error': 'bad key ***'}"
        assert raised.value.__context__ is None
        client_records = [r for r in caplog.records if not r.name.startswith("werkzeug")]
        assert all(SECRET not in r.getMessage() for r in client_records)
