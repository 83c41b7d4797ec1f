"""`python -m rps_kedro.retraining`: the retrain trigger, an Alertmanager webhook receiver.

`POST /alerts` (Alertmanager's webhook payload, version 4) is answered 202 at once; one worker
thread decides each alert in order (`RetrainTrigger`: a firing drift or live-skill alert starts
the modelling DAG through Airflow's REST API, within the cooldown). `GET /metrics`: every
decision counted in `rps_retrain_requests_total{alertname, outcome}`, and
`rps_retrain_last_triggered_timestamp_seconds`. `GET /healthz`: liveness.
Settings: conf/base/retraining.yml; credentials: see there.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)

from rps_kedro.config import load_config
from rps_kedro.retraining.trigger import (
    OUTCOMES,
    AirflowDagTrigger,
    AirflowToken,
    RetrainSettings,
    RetrainTrigger,
)

logger = logging.getLogger("rps_kedro.retraining")

CREDENTIALS_KEY = "airflow_api"
ENVIRONMENT = {  # credential -> the environment variable holding it
    "token": "RPS_AIRFLOW_TOKEN",
    "username": "RPS_AIRFLOW_USERNAME",
    "password": "RPS_AIRFLOW_PASSWORD",
}


class RetrainMetrics:
    """The trigger's decisions as Prometheus metrics."""

    def __init__(self, alerts: tuple[str, ...]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "rps_retrain_requests",
            "Alerts decided by the retrain trigger, by alert and outcome",
            ["alertname", "outcome"],
            registry=self.registry,
        )
        for alertname in alerts:  # every series exists from the start, at 0
            for outcome in OUTCOMES:
                self.requests.labels(alertname=alertname, outcome=outcome)
        self.last_triggered = Gauge(
            "rps_retrain_last_triggered_timestamp_seconds",
            "When the retrain trigger last started a run of the modelling DAG (Unix time)",
            registry=self.registry,
        )


def airflow_credentials(conf_source: Path) -> dict[str, str]:
    """Token or username/password: the environment's, else conf/<env>/credentials.yml's."""
    from_environment = {k: os.environ[v] for k, v in ENVIRONMENT.items() if os.environ.get(v)}
    if from_environment:
        return from_environment
    credentials = load_config("credentials", conf_source, os.environ.get("KEDRO_ENV"))
    return dict(credentials.get(CREDENTIALS_KEY) or {})


class Receiver:
    """The webhook's queue and its worker thread."""

    def __init__(self, trigger: RetrainTrigger, metrics: RetrainMetrics):
        self.trigger = trigger
        self.metrics = metrics
        self.alerts: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.worker = threading.Thread(target=self._decide, name="retrain-trigger", daemon=True)
        self.worker.start()

    def receive(self, notification: dict[str, Any]) -> int:
        """Queue every alert of a notification; how many."""
        alerts = notification.get("alerts")
        if not isinstance(alerts, list):
            raise ValueError("not an Alertmanager notification: no `alerts` list")
        for alert in alerts:
            self.alerts.put(alert)
        return len(alerts)

    def _decide(self) -> None:
        while (alert := self.alerts.get()) is not None:
            name = alert.get("labels", {}).get("alertname", "")
            try:
                outcome = self.trigger.handle(alert)
            except Exception:  # a bug must not stop the receiver: logged and counted
                logger.exception("retrain trigger failed on %s", name)
                outcome = "error"  # one of OUTCOMES
            self.metrics.requests.labels(alertname=name, outcome=outcome).inc()
            if outcome == "triggered":
                self.metrics.last_triggered.set_to_current_time()
            self.alerts.task_done()

    def stop(self) -> None:
        """Decide what is queued, then stop the worker."""
        self.alerts.put(None)
        self.worker.join(timeout=60)


def handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            if self.path.rstrip("/") not in ("", "/alerts"):
                return self._answer(404, {"error": f"no such endpoint: {self.path}"})
            try:
                length = int(self.headers.get("Content-Length") or 0)
                queued = receiver.receive(json.loads(self.rfile.read(length)))
            except (ValueError, AttributeError) as error:
                return self._answer(400, {"error": str(error)})
            return self._answer(202, {"queued": queued})

        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/healthz":
                return self._answer(200, {"status": "ok"})
            if self.path == "/metrics":
                return self._send(
                    200, generate_latest(receiver.metrics.registry), CONTENT_TYPE_LATEST
                )
            return self._answer(404, {"error": f"no such endpoint: {self.path}"})

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            self._send(status, json.dumps(body).encode(), "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            logger.debug(format, *args)

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9096)
    parser.add_argument("--conf", type=Path, default=Path("conf"), help="the project's conf/")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = load_config("retraining", arguments.conf, os.environ.get("KEDRO_ENV"))
    settings = RetrainSettings.from_config(config["retraining"])
    token = AirflowToken(settings.airflow_url, **airflow_credentials(arguments.conf))
    trigger = RetrainTrigger(settings, AirflowDagTrigger(settings, token))
    receiver = Receiver(trigger, RetrainMetrics(settings.alerts))
    server = ThreadingHTTPServer((arguments.host, arguments.port), handler_for(receiver))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    logger.info(
        "retrain trigger on http://%s:%d: %s start %s at %s (cooldown %s)",
        arguments.host,
        server.server_address[1],
        "/".join(settings.alerts),
        settings.dag_id,
        settings.airflow_url,
        settings.cooldown,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        receiver.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
