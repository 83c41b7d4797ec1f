"""Session fixtures of the serving tests: one trained project copy (its registry's champion),
a BentoML home seeded with it, and one `bentoml serve` of the service that the HTTP tests share.

The service is started with the project copy's conf: conf/local/serving.yml there
shortens the drift window so the drift test moves it with a few requests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import yaml

from tests.serving.support import (
    SERVED_SYMBOLS,
    TrainedModel,
    bentoml_server,
    server_home,
    session_model,
)
from tests.support.servers import ServerProcess, http_request
from tools.replay_traffic import predict_body

SERVICE = "rps_kedro.serving.service:RpsService"
TEST_DRIFT_WINDOW = 20  # requests
READINESS_POLL_SECONDS = 0.05


@dataclass
class RunningService:
    server: ServerProcess
    readiness: list[int] = field(default_factory=list)  # /readyz answers from start to ready
    early_request: dict = field(default_factory=dict)  # a /predict sent while loading

    @property
    def url(self) -> str:
        return self.server.url

    def post(self, path: str, payload: object, **kwargs) -> tuple[int, bytes]:
        return http_request(self.url + path, payload, timeout=60, **kwargs)

    def get(self, path: str) -> tuple[int, bytes]:
        return http_request(self.url + path, timeout=30)


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory) -> TrainedModel:
    """A project copy trained once per session and its champion in a BentoML model store."""
    model = session_model(tmp_path_factory.mktemp("serving"))
    (model.project / "conf/local/serving.yml").write_text(
        yaml.safe_dump({"serving": {"drift": {"window_requests": TEST_DRIFT_WINDOW}}})
    )
    return model


def _watch_start(service: RunningService, lookback_body: dict) -> None:
    """From the moment /livez answers: poll /readyz until 200, with one /predict in flight."""
    answer: dict = {}

    def early_predict() -> None:
        answer["sent_while_ready"] = http_request(service.url + "/readyz")[0] == 200
        answer["status"], answer["body"] = service.post("/predict", lookback_body)

    thread = threading.Thread(target=early_predict)
    thread.start()
    while (status := service.get("/readyz")[0]) != 200:
        service.readiness.append(status)
        time.sleep(READINESS_POLL_SECONDS)
    service.readiness.append(status)
    thread.join(timeout=120)
    service.early_request.update(answer)


@pytest.fixture(scope="session")
def service(trained_model, tmp_path_factory) -> Iterator[RunningService]:
    """`bentoml serve` of the service (1 worker) on a free port, for the whole session."""
    home = server_home(trained_model.bentoml_home, tmp_path_factory.mktemp("home-1-worker"))
    symbol = SERVED_SYMBOLS[-1]
    body = predict_body(symbol, trained_model.recent_bars(symbol, 200))
    with bentoml_server(
        SERVICE,
        home,
        home / "logs",
        conf_source=trained_model.conf,
        cwd=trained_model.project,
        workers=1,  # per-process state (drift window, readiness) is asserted request by request
        ready_path="/livez",
    ) as server:
        running = RunningService(server)
        _watch_start(running, body)
        yield running
