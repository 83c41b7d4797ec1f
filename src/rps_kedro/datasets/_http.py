"""JSON over HTTP for the market providers: timeouts, bounded retries with backoff, secret hygiene.

Two clocks bound a request: `RetryPolicy.timeout` limits each socket read (and connect), and an
overall deadline limits a whole fetch - every page, retry, backoff wait and body read. A server
that drips a byte every few seconds never trips the per-read timeout; the body is therefore read
in small pieces and the deadline is checked after each one, every read's timeout is capped at
the time left, and the request runs in a worker thread that the caller stops waiting for at the
deadline (a server dripping its headers). A fetch that runs past its deadline raises `DeadlineExceededError` (not retried).
Every reason raised or logged has the API key removed first (`JsonHttpClient.error`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import requests
import urllib3

logger = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({418, 429, 500, 502, 503, 504})
READ_CHUNK_BYTES = 64 * 1024
# The worker reports its own deadline (silent server, dripping body) with the detail it knows;
# the caller's wait outlasts it by this much and catches only what the worker cannot: headers.
WATCHDOG_GRACE_SECONDS = 0.5


class ProviderError(RuntimeError):
    """A provider refused or failed a request; the message names provider, symbol and reason."""

    def __init__(self, provider: str, symbol: str, reason: str):
        super().__init__(f"{provider} {symbol}: {reason}")
        self.provider = provider
        self.symbol = symbol
        self.reason = reason


class RateLimitError(ProviderError):
    """The provider kept rate-limiting the request after every retry."""


class MissingCredentialsError(ProviderError):
    """The provider needs an API key that neither the environment nor credentials.yml gives."""


class DeadlineExceededError(ProviderError):
    """A fetch ran past its overall deadline (slow or dripping server, or too many retries)."""


def describe_shape(value: Any) -> str:
    """A short description of a JSON value's shape for error messages, e.g. `a list of 3`."""
    if value is None:
        return "null"
    if isinstance(value, dict):
        keys = sorted(map(str, value))
        shown = ", ".join(keys[:8]) + (", ..." if len(keys) > 8 else "")
        return f"a dict with keys [{shown}]"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return f"a {type(value).__name__}"


def shape_reason(what: str, value: Any, expected: str) -> str:
    """The reason of a payload-shape error: what was found where, and what was expected."""
    return f"unexpected payload shape: {what} is {describe_shape(value)}, expected {expected}"


def first_misfit(items: Iterable[Any], fits: Callable[[Any], bool]) -> tuple[int, Any] | None:
    """Position and value of the first item that does not fit, or None."""
    return next(((i, item) for i, item in enumerate(items) if not fits(item)), None)


@dataclass(frozen=True)
class Deadline:
    """An overall time budget on the monotonic clock."""

    seconds: float
    expires_at: float

    @classmethod
    def start(cls, seconds: float) -> Deadline:
        """A deadline `seconds` from now."""
        return cls(seconds, time.monotonic() + seconds)

    def remaining(self) -> float:
        """Seconds left (negative once expired)."""
        return self.expires_at - time.monotonic()


_active_deadline: ContextVar[Deadline | None] = ContextVar("provider_deadline", default=None)


class RetryableResponse(Exception):
    """Raised by a payload check when the response is a transient refusal worth retrying."""

    def __init__(self, reason: str, rate_limited: bool, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.rate_limited = rate_limited
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with equal jitter (half fixed, half random); `Retry-After` is honoured up to `max_delay`."""

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    timeout: float = 30.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return rng.uniform(ceiling / 2, ceiling)


class SecretRedactingFilter(logging.Filter):
    """Replace a secret in log records (urllib3 logs full request URLs at DEBUG)."""

    def __init__(self, secret: str):
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message without the secret."""
        message = record.getMessage()
        if self.secret in message:
            record.msg = message.replace(self.secret, "***")
            record.args = ()
        return True


PayloadCheck = Callable[[Any], None]


@dataclass(frozen=True)
class Download:
    """One response read in full: status, body text and a usable Retry-After."""

    status: int
    text: str
    retry_after: float | None


@dataclass
class JsonHttpClient:
    """GET JSON with retries under an overall deadline; `check_payload` raises RetryableResponse
    or ProviderError. Without an enclosing `deadline_scope`, each `get_json` call gets its own."""

    provider: str
    base_url: str
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    deadline: float = 300.0
    secret: str | None = field(default=None, repr=False)
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        if self.secret:
            for name in ("urllib3.connectionpool", __name__):
                target = logging.getLogger(name)
                known = {getattr(f, "secret", None) for f in target.filters}
                if self.secret not in known:
                    target.addFilter(SecretRedactingFilter(self.secret))

    def redact(self, text: str) -> str:
        """Remove the secret from a text that may quote a URL."""
        return text.replace(self.secret, "***") if self.secret else text

    def error(
        self, symbol: str, reason: str, kind: type[ProviderError] = ProviderError
    ) -> ProviderError:
        """A ProviderError of this provider whose reason has the secret removed."""
        return kind(self.provider, symbol, self.redact(reason))

    @contextlib.contextmanager
    def deadline_scope(self) -> Iterator[Deadline]:
        """Share one overall deadline among every request made inside (an outer scope wins)."""
        outer = _active_deadline.get()
        if outer is not None:
            yield outer
            return
        token = _active_deadline.set(Deadline.start(self.deadline))
        try:
            yield _active_deadline.get()
        finally:
            _active_deadline.reset(token)

    def deadline_error(self, symbol: str, deadline: Deadline, during: str) -> ProviderError:
        """The error of a fetch that ran out of time."""
        return self.error(
            symbol,
            f"overall deadline of {deadline.seconds:g}s exceeded {during}",
            DeadlineExceededError,
        )

    def get_json(
        self, path: str, params: dict[str, Any], symbol: str, check_payload: PayloadCheck
    ) -> Any:
        """GET base_url+path and return the decoded JSON, retrying transient failures."""
        with self.deadline_scope() as deadline:
            try:
                return self._get_with_retries(path, params, symbol, check_payload, deadline)
            except ProviderError as failure:
                reason, kind = failure.reason, type(failure)
        # Raised outside the handler: the unredacted error must not ride along as __context__.
        raise self.error(symbol, reason, kind)

    def _get_with_retries(
        self,
        path: str,
        params: dict[str, Any],
        symbol: str,
        check_payload: PayloadCheck,
        deadline: Deadline,
    ) -> Any:
        """The retry loop of `get_json`."""
        last_reason = "no attempt made"
        rate_limited = False
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                return self._attempt(path, params, symbol, check_payload, deadline)
            except RetryableResponse as transient:
                last_reason, rate_limited = self.redact(transient.reason), transient.rate_limited
                retry_after = transient.retry_after
            if attempt == self.retry.max_attempts:
                break
            wait = self.retry.delay(attempt, retry_after, self.rng)
            if wait >= deadline.remaining():
                raise self.deadline_error(
                    symbol, deadline, f"before retry {attempt} (waiting {wait:.2f}s): {last_reason}"
                )
            logger.warning(
                "%s %s: %s; retry %d/%d in %.2fs",
                self.provider,
                symbol,
                last_reason,
                attempt,
                self.retry.max_attempts - 1,
                wait,
            )
            self.sleep(wait)
        kind = RateLimitError if rate_limited else ProviderError
        raise self.error(
            symbol, f"gave up after {self.retry.max_attempts} attempts: {last_reason}", kind
        )

    def _attempt(
        self,
        path: str,
        params: dict[str, Any],
        symbol: str,
        check_payload: PayloadCheck,
        deadline: Deadline,
    ) -> Any:
        """One request: transport errors and retryable statuses become RetryableResponse."""
        download = self._download(path, params, symbol, deadline)
        status = download.status
        if status in RETRYABLE_STATUS:
            raise RetryableResponse(
                f"HTTP {status}: {self.redact(download.text)[:200]}",
                rate_limited=status in (418, 429),
                retry_after=download.retry_after,
            )
        try:
            payload = json.loads(download.text)
        except ValueError:
            raise self.error(
                symbol, f"malformed JSON (HTTP {status}): {self.redact(download.text)[:200]!r}"
            ) from None
        check_payload(payload)
        if status >= 400:
            raise self.error(symbol, f"HTTP {status}: {self.redact(str(payload))[:200]}")
        return payload

    def _download(
        self, path: str, params: dict[str, Any], symbol: str, deadline: Deadline
    ) -> Download:
        """One GET read in full, in a worker thread the caller stops waiting for at the deadline:
        a server that drips its status line or headers is bounded too (the socket reads that
        http.client makes for them each reset the per-read timeout). An abandoned worker ends at
        the server's pace (or its per-read timeout) and its result is dropped."""
        outcome: Future[Download] = Future()

        def download() -> None:
            try:
                outcome.set_result(self._download_in_full(path, params, symbol, deadline))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                outcome.set_exception(exc)

        threading.Thread(target=download, name=f"{self.provider}-{symbol}", daemon=True).start()
        try:
            return outcome.result(timeout=max(deadline.remaining(), 0.0) + WATCHDOG_GRACE_SECONDS)
        except FutureTimeoutError:
            raise self.deadline_error(
                symbol, deadline, "waiting for the response headers"
            ) from None

    def _download_in_full(
        self, path: str, params: dict[str, Any], symbol: str, deadline: Deadline
    ) -> Download:
        """One GET read in full; each read is bounded by the per-read timeout and
        the time left, and the deadline is checked between reads."""
        remaining = deadline.remaining()
        if remaining <= 0:
            raise self.deadline_error(symbol, deadline, "before the request")
        capped = remaining < self.retry.timeout
        try:
            with self.session.get(
                self.base_url.rstrip("/") + path,
                params=params,
                timeout=min(self.retry.timeout, remaining),
                stream=True,
            ) as response:
                body = self._read_body(response, symbol, deadline)
                return Download(
                    status=response.status_code,
                    text=body.decode(response.encoding or "utf-8", errors="replace"),
                    retry_after=_retry_after_seconds(response),
                )
        except (requests.Timeout, urllib3.exceptions.TimeoutError):
            if capped:
                raise self.deadline_error(symbol, deadline, "waiting for the server") from None
            raise RetryableResponse(
                f"timed out after {self.retry.timeout}s", rate_limited=False
            ) from None
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise RetryableResponse(
                f"request failed: {type(exc).__name__}", rate_limited=False
            ) from None

    def _read_body(self, response: requests.Response, symbol: str, deadline: Deadline) -> bytes:
        """The whole body, read piece by piece until EOF or the deadline."""
        pieces: list[bytes] = []
        while piece := response.raw.read1(READ_CHUNK_BYTES, decode_content=True):
            pieces.append(piece)
            if deadline.remaining() <= 0:
                received = sum(map(len, pieces))
                raise self.deadline_error(
                    symbol, deadline, f"while reading the response ({received} bytes received)"
                )
        return b"".join(pieces)


def _retry_after_seconds(response: requests.Response) -> float | None:
    """Parse a numeric Retry-After header, if any (negative or non-finite values are ignored)."""
    value = response.headers.get("Retry-After")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None
