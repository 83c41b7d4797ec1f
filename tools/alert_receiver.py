"""A small Alertmanager webhook receiver that appends each alert as one JSON line to a file.

Alertmanager POSTs a notification (webhook payload version 4) holding a group of alerts; every
alert of it becomes one line of the output file, with the time it was received and the group's
receiver and key::

    {"received_at": "2025-06-30T12:00:01.123456+00:00", "receiver": "rps-webhook",
     "groupKey": "...", "status": "firing", "labels": {"alertname": "RpsDriftRatioHigh", ...},
     "annotations": {"summary": "...", ...}, "startsAt": "...", "endsAt": "...",
     "generatorURL": "...", "fingerprint": "..."}

Run it with::

    python -m tools.alert_receiver --port 9095 \
        --output data/08_reporting/alerts/alerts.jsonl

Standard library only, so the file also runs on its own (``python alert_receiver.py``), which
is how the docker-compose stack starts it. Endpoints: ``POST /`` or ``POST /alerts`` (the
webhook), ``GET /healthz`` (liveness).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

logger = logging.getLogger("tools.alert_receiver")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9095
DEFAULT_OUTPUT = Path("data/08_reporting/alerts/alerts.jsonl")
WEBHOOK_PATHS = ("/", "/alerts")
MAX_BODY_BYTES = 1 << 20  # Alertmanager payloads are a few kB; refuse anything absurd


class PayloadError(ValueError):
    """The request body is not an Alertmanager webhook payload."""


def alert_records(payload: Any, received_at: datetime) -> list[dict[str, Any]]:
    """One JSON-serialisable record per alert of an Alertmanager webhook payload."""
    if not isinstance(payload, dict):
        raise PayloadError("the body must be a JSON object")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadError("'alerts' must be a list")
    if not all(isinstance(alert, dict) for alert in alerts):
        raise PayloadError("every item of 'alerts' must be an object")
    if payload.get("version") != "4":
        logger.warning("webhook payload version %r, expected '4'", payload.get("version"))
    stamp = received_at.isoformat()
    group = {"receiver": payload.get("receiver"), "groupKey": payload.get("groupKey")}
    return [{"received_at": stamp, **group, **alert} for alert in alerts]


class AlertLog:
    """Appends records as JSON lines; one lock so concurrent requests never interleave lines."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def append(self, records: list[dict[str, Any]]) -> None:
        lines = "".join(json.dumps(record, sort_keys=True) + "\n" for record in records)
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(lines)
            handle.flush()


class AlertReceiverHandler(BaseHTTPRequestHandler):
    server: AlertReceiverServer
    server_version = "rps-alert-receiver/1"

    def do_GET(self) -> None:
        if self.path in ("/healthz", "/livez", "/readyz"):
            self._reply(HTTPStatus.OK, {"status": "ok"})
        else:
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such path: {self.path}"})

    def do_POST(self) -> None:
        if self.path not in WEBHOOK_PATHS:
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such path: {self.path}"})
            return
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._reply(HTTPStatus.LENGTH_REQUIRED, {"error": "Content-Length required"})
            return
        if int(length) > MAX_BODY_BYTES:
            self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "payload too large"})
            return
        body = self.rfile.read(int(length))
        try:
            records = alert_records(json.loads(body), datetime.now(UTC))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            self._reply(HTTPStatus.BAD_REQUEST, {"error": f"invalid JSON: {error}"})
            return
        except PayloadError as error:
            self._reply(HTTPStatus.BAD_REQUEST, {"error": str(error)})
            return
        try:
            self.server.alert_log.append(records)
        except OSError as error:  # a 5xx makes Alertmanager retry the notification
            logger.error("cannot write %s: %s", self.server.alert_log.path, error)
            self._reply(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "cannot write the alerts"})
            return
        for record in records:
            labels = record.get("labels")
            labels = labels if isinstance(labels, dict) else {}
            logger.info(
                "%s %s severity=%s",
                record.get("status"),
                labels.get("alertname"),
                labels.get("severity"),
            )
        self._reply(HTTPStatus.OK, {"written": len(records)})

    def _reply(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


class AlertReceiverServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # the default 5 drops bursts of connections (1 s SYN retry)

    def __init__(self, address: tuple[str, int], alert_log: AlertLog) -> None:
        self.alert_log = alert_log
        super().__init__(address, AlertReceiverHandler)


def make_server(
    host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, output: Path = DEFAULT_OUTPUT
) -> AlertReceiverServer:
    """A bound, not yet serving, receiver (port 0 picks a free port: see ``server_address``)."""
    return AlertReceiverServer((host, port), AlertLog(output))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Alertmanager webhook receiver: each alert becomes a JSON line of a file."
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (%(default)s)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (%(default)s)")
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="JSON-lines file the alerts are appended to (%(default)s)",
    )
    parser.add_argument("--log-level", default="INFO", help="logging level (%(default)s)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    server = make_server(args.host, args.port, args.output)

    def stop(signum: int, _frame: Any) -> None:
        logger.info("signal %s: stopping", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host, port = server.server_address[:2]
    logger.info("listening on http://%s:%s, appending alerts to %s", host, port, args.output)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
