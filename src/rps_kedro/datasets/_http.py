"""JSON over HTTP for the market providers: timeouts, bounded retries with backoff, secret hygiene."""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

logger = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({418, 429, 500, 502, 503, 504})


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


@dataclass
class JsonHttpClient:
    """GET JSON with retries; `check_payload` raises RetryableResponse or ProviderError."""

    provider: str
    base_url: str
    retry: RetryPolicy = field(default_factory=RetryPolicy)
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

    def get_json(
        self, path: str, params: dict[str, Any], symbol: str, check_payload: PayloadCheck
    ) -> Any:
        """GET base_url+path and return the decoded JSON, retrying transient failures."""
        last_reason = "no attempt made"
        rate_limited = False
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                return self._attempt(path, params, symbol, check_payload)
            except RetryableResponse as transient:
                last_reason, rate_limited = self.redact(transient.reason), transient.rate_limited
                retry_after = transient.retry_after
            if attempt == self.retry.max_attempts:
                break
            wait = self.retry.delay(attempt, retry_after, self.rng)
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
        error = RateLimitError if rate_limited else ProviderError
        raise error(
            self.provider,
            symbol,
            f"gave up after {self.retry.max_attempts} attempts: {last_reason}",
        )

    def _attempt(
        self, path: str, params: dict[str, Any], symbol: str, check_payload: PayloadCheck
    ) -> Any:
        """One request: transport errors and retryable statuses become RetryableResponse."""
        try:
            response = self.session.get(
                self.base_url.rstrip("/") + path, params=params, timeout=self.retry.timeout
            )
        except requests.Timeout:
            raise RetryableResponse(
                f"timed out after {self.retry.timeout}s", rate_limited=False
            ) from None
        except requests.RequestException as exc:
            raise RetryableResponse(
                f"request failed: {type(exc).__name__}", rate_limited=False
            ) from None
        if response.status_code in RETRYABLE_STATUS:
            raise RetryableResponse(
                f"HTTP {response.status_code}: {self.redact(response.text)[:200]}",
                rate_limited=response.status_code in (418, 429),
                retry_after=_retry_after_seconds(response),
            )
        try:
            payload = response.json()
        except ValueError:
            raise ProviderError(
                self.provider,
                symbol,
                f"malformed JSON (HTTP {response.status_code}): {self.redact(response.text)[:200]!r}",
            ) from None
        check_payload(payload)
        if response.status_code >= 400:
            raise ProviderError(
                self.provider,
                symbol,
                f"HTTP {response.status_code}: {self.redact(str(payload))[:200]}",
            )
        return payload


def _retry_after_seconds(response: requests.Response) -> float | None:
    """Parse a numeric Retry-After header, if any (negative or non-finite values are ignored)."""
    value = response.headers.get("Retry-After")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None
