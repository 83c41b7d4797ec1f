"""ASGI middleware in front of the prediction routes: body size and media type checked before
anything parses the body, and every rejected or failed request counted by outcome.

- a body over `max_bytes` (by Content-Length, or counted while reading a chunked body): 413
- a Content-Type other than JSON: 415 (BentoML would otherwise try multipart or pickle serdes)
- any answer >= 400 from the routes is counted: 503 as unavailable, other 5xx as error, 4xx
  as invalid (pydantic's 400s never reach the service's code, so they are counted here).
- a client that disconnects before its body is complete is counted as `aborted` and gets no
  answer (the body is read here, before the service: BentoML would answer its own 500 and log
  a traceback, counted as a server error by the error-rate alert).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
JSON_MEDIA_TYPES = (b"application/json", b"")
UNAVAILABLE = 503
SERVER_ERROR = 500
CLIENT_ERROR = 400
COMPLETE, TOO_LARGE, DISCONNECTED = "complete", "too_large", "disconnected"


def outcome_of(status: int) -> str | None:
    """The rps_predictions_total outcome of a rejected or failed answer (None when fine)."""
    if status == UNAVAILABLE:
        return "unavailable"
    if status >= SERVER_ERROR:
        return "error"
    if status >= CLIENT_ERROR:
        return "invalid"
    return None


class RequestGuard:
    """Guards the given POST routes; other paths pass through untouched."""

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        *,
        paths: frozenset[str],
        max_bytes: int,
        on_rejected: Callable[[str], None],
    ):
        self.app = app
        self.paths = paths
        self.max_bytes = max_bytes
        self.on_rejected = on_rejected

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                if (outcome := outcome_of(message["status"])) is not None:
                    self.on_rejected(outcome)
            await send(message)

        headers = dict(scope.get("headers") or [])
        media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if media_type not in JSON_MEDIA_TYPES:
            shown = media_type.decode("latin-1")
            await _reject(counting_send, 415, ["header", "content-type"], f"{shown} is not JSON")
            return
        length = headers.get(b"content-length")
        if length is not None and not length.isdigit():
            await _reject(counting_send, 400, ["header", "content-length"], "not a number")
            return
        if length is not None and int(length) > self.max_bytes:
            await _reject(counting_send, 413, ["body"], self._too_large(int(length)))
            return
        body, state = await _read_at_most(receive, self.max_bytes)
        if state == DISCONNECTED:
            self.on_rejected("aborted")
            return
        if state == TOO_LARGE:
            await _reject(counting_send, 413, ["body"], self._too_large(len(body)))
            return
        await self.app(scope, _replay(body, receive), counting_send)

    def _too_large(self, size: int) -> str:
        return f"{size} bytes or more: at most {self.max_bytes} bytes are accepted"


async def _read_at_most(receive: Receive, limit: int) -> tuple[bytes, str]:
    """The body (or what came of it) and how reading it ended: COMPLETE, TOO_LARGE (beyond
    `limit`) or DISCONNECTED (the client left before its last chunk)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), DISCONNECTED
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks), TOO_LARGE
        if not message.get("more_body", False):
            return b"".join(chunks), COMPLETE


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _reject(send: Send, status: int, loc: list[str], message: str) -> None:
    kinds = {413: "payload_too_large", 415: "unsupported_media_type", 400: "bad_header"}
    body = json.dumps(
        {
            "error": message,
            "detail": [{"loc": loc, "msg": message, "type": kinds[status]}],
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
