"""Helpers shared by the serving tests and the serving benchmark: a trained project copy, a
BentoML home seeded with its champion, bars payloads, and `bentoml serve` on a free port."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import http.client
import itertools
import json
import math
import os
import pickle
import shutil
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from sklearn.dummy import DummyRegressor

from rps_kedro.core.forecasters import LearnedTarget, VolatilityFloor
from rps_kedro.core.model import ForecastModel, load_model
from rps_kedro.core.model_names import MODEL_ARTIFACT, REGISTERED_MODEL_NAME
from tests.conftest import PROJECT_ROOT, copy_project, kedro_run, project_parameters
from tests.support.servers import (
    LOCALHOST,
    ServerProcess,
    free_port,
    http_request,
    running_process,
)

BIN = Path(sys.executable).parent
SIMULATOR_END = "2025-06-01 00:00"
SERVED_SYMBOLS = ["AAPL", "BTC-USD"]
# A small, fast project: two symbols, no profiling, two backtest folds.
FAST_PARAMETERS = {
    "ingestion": {"symbols": SERVED_SYMBOLS},
    "data_profile": {"enabled": False},
    "modelling": {"backtest": {"folds": 2}},
}
# Fewer boosting rounds: the tests are about the serving path, not the model's skill.
SMALL_MODEL_ITERATIONS = 40
# A deliberately bad model (live scoring must flag it): constants far from any market.
BAD_MODEL = "deliberately_bad"
BAD_LOG_RETURN = 0.02
BAD_VOLATILITY = 0.05
QUIET = {
    "KEDRO_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "BENTOML_DO_NOT_TRACK": "true",
    "GX_ANALYTICS_ENABLED": "false",
    "MPLBACKEND": "Agg",
}


def train_project(destination: Path, small_model: bool = True) -> Path:
    """A project copy after `kedro run`: its mlflow.db holds `rps_kedro@champion`."""
    project = copy_project(destination)
    parameters = copy.deepcopy(FAST_PARAMETERS)
    if small_model:
        boosting = {"gradient_boosting": {"max_iter": SMALL_MODEL_ITERATIONS}}
        parameters["modelling"]["candidates"] = boosting
    (project / "conf/local/parameters.yml").write_text(yaml.safe_dump(parameters))
    shutil.copy(PROJECT_ROOT / "bentofile.yaml", project / "bentofile.yaml")
    result = kedro_run(project, "--params", f"simulator_end={SIMULATOR_END}")
    if result.returncode != 0:
        raise RuntimeError(f"kedro run failed:\n{result.stderr[-4000:]}")
    return project


@contextlib.contextmanager
def project_registry(project: Path) -> Iterator[None]:
    """MLflow's tracking URI set to a project copy's registry for the block, then restored."""
    import mlflow  # noqa: PLC0415

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)


@dataclass
class TrainedModel:
    """A trained project copy and its champion imported into a BentoML model store."""

    project: Path
    bentoml_home: Path  # the shared model (and Bento) store
    tag: str
    bars: pd.DataFrame  # the primary bars the model was trained on

    @property
    def conf(self) -> Path:
        return self.project / "conf"

    def champion_bundle(self) -> dict[str, Any]:
        """The project registry's champion with its ForecastModel (the forecast pipeline's
        `champion_bundle`)."""
        from rps_kedro.datasets import ChampionModelDataset  # noqa: PLC0415

        with project_registry(self.project):
            return ChampionModelDataset(bundle=True).load()

    def recent_bars(self, symbol: str, count: int, end: int | None = None) -> pd.DataFrame:
        """`count` bars of `symbol`, ending `end` bars before its last one (None: the last)."""
        rows = self.bars[self.bars["symbol"] == symbol]
        stop = len(rows) if end is None else len(rows) - end
        return rows.iloc[stop - count : stop].reset_index(drop=True)


_session_models: dict[bool, TrainedModel] = {}


def session_model(root: Path, small_model: bool = True) -> TrainedModel:
    """Train and import once per process (the serving tests and the benchmark's smoke test
    share it); `root` is used the first time only."""
    if small_model not in _session_models:
        project = train_project(root / "project", small_model=small_model)
        home = root / "bentoml"
        tag = seed_bentoml_home(project, home)
        bars = pd.read_parquet(project / "data/03_primary/bars")
        _session_models[small_model] = TrainedModel(project, home, tag, bars)
    return _session_models[small_model]


def environment(bentoml_home: Path, conf_source: Path | None = None, **extra: str) -> dict:
    env = {**os.environ, **QUIET, "BENTOML_HOME": str(bentoml_home), **extra}
    if conf_source is not None:
        env["RPS_CONF_SOURCE"] = str(conf_source)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


def seed_bentoml_home(project: Path, bentoml_home: Path) -> str:
    """Import the project's champion into a BentoML home (`make bento`'s first step); its tag."""
    result = subprocess.run(
        [
            str(BIN / "python"),
            "-m",
            "rps_kedro.serving.build",
            f"--tracking-uri=sqlite:///{project / 'mlflow.db'}",
        ],
        cwd=project,
        env=environment(bentoml_home, project / "conf"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"import failed:\n{result.stdout}\n{result.stderr[-4000:]}")
    return result.stdout.strip().splitlines()[-1].split()[2].rstrip(":")


def server_home(shared: Path, destination: Path) -> Path:
    """A BentoML home of its own (BentoML wipes the home's Prometheus folder at each start)
    whose model and Bento stores are the shared ones."""
    destination.mkdir(parents=True, exist_ok=True)
    for store in ("models", "bentos"):
        (shared / store).mkdir(exist_ok=True)
        (destination / store).symlink_to(shared / store, target_is_directory=True)
    return destination


@contextlib.contextmanager
def bentoml_server(
    target: str,
    bentoml_home: Path,
    log_dir: Path,
    *,
    conf_source: Path | None = None,
    cwd: Path = PROJECT_ROOT,
    workers: int | None = None,
    ready_path: str = "/readyz",
    timeout: float = 240,
    **extra_env: str,
) -> Iterator[ServerProcess]:
    """`bentoml serve <target>` on 127.0.0.1 and a free port; always stopped."""
    port = free_port()
    if workers is not None:
        extra_env["BENTOML_CONFIG_OPTIONS"] = f"services.RpsService.workers={workers}"
    argv = [str(BIN / "bentoml"), "serve", target, f"--host={LOCALHOST}", f"--port={port}"]
    with running_process(
        f"bentoml-{port}",
        argv,
        url=f"http://{LOCALHOST}:{port}",
        ready_path=ready_path,
        log_dir=log_dir,
        timeout=timeout,
        env=environment(bentoml_home, conf_source, **extra_env),
        cwd=cwd,
    ) as server:
        yield server


def metric_samples(text: str) -> dict[str, float]:
    """`name{labels}` -> value of a Prometheus text exposition (labels sorted by name)."""
    from prometheus_client.parser import text_string_to_metric_families  # noqa: PLC0415

    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def as_json(body: bytes) -> Any:
    return json.loads(body)


def raw_request(
    url: str, path: str, body: bytes, headers: dict[str, str], timeout: float = 60
) -> tuple[int, bytes]:
    """POST with exactly these headers (e.g. a Content-Length larger than the body sent)."""
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
    try:
        connection.putrequest("POST", path)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        if body:
            connection.send(body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def deliberately_bad(model: ForecastModel) -> ForecastModel:
    """The model with both targets served by constants far from any market: +2 % every hour and
    a 5 % hourly volatility (scikit-learn's DummyRegressor, fitted to them)."""
    constants = {"return": BAD_LOG_RETURN, "volatility": math.log(BAD_VOLATILITY)}
    columns = model.forecaster.feature_columns
    floor = VolatilityFloor.from_params(project_parameters()["modelling"]["volatility_floor"])
    bad = {}
    for target, constant in constants.items():
        regressor = DummyRegressor(strategy="constant", constant=constant)
        regressor.fit(np.zeros((1, len(columns))), [constant])
        bad[target] = LearnedTarget(target, columns, regressor, floor, (0.0, 1.0))
    forecaster = model.forecaster
    forecaster = dataclasses.replace(forecaster, models={**forecaster.models, BAD_MODEL: bad})
    for target in bad:
        forecaster = forecaster.serving(target, BAD_MODEL, "a test's deliberately bad model")
    return dataclasses.replace(model, forecaster=forecaster)


def register_champion_variant(
    project: Path, workdir: Path, bundle: Callable[[ForecastModel], bytes], name: str
) -> str:
    """Register the champion's MLflow model with `bundle(champion's ForecastModel)` as its
    forecast model artifact, as a new version of the project's registered model (run `name`,
    artifacts under `workdir`), and point `champion` at it; its version."""
    import mlflow  # noqa: PLC0415
    from mlflow.tracking import MlflowClient  # noqa: PLC0415

    with project_registry(project):
        client = MlflowClient()
        champion = client.get_model_version_by_alias(REGISTERED_MODEL_NAME, "champion")
        folder = Path(
            mlflow.artifacts.download_artifacts(
                f"models:/{REGISTERED_MODEL_NAME}/{champion.version}",
                dst_path=str(workdir / name / "downloaded"),
            )
        )
        flavor = yaml.safe_load((folder / "MLmodel").read_text())["flavors"]["python_function"]
        artifact = folder / flavor["artifacts"][MODEL_ARTIFACT]["path"]
        artifact.write_bytes(bundle(load_model(artifact)))
        (folder / "registered_model_meta").unlink(missing_ok=True)  # the champion's name/version
        experiment = client.get_experiment_by_name("test_variants")
        experiment_id = (
            experiment.experiment_id
            if experiment
            else client.create_experiment("test_variants", artifact_location=str(workdir / "runs"))
        )
        run = client.create_run(experiment_id, run_name=name)
        client.log_artifacts(run.info.run_id, str(folder), "model")
        client.set_terminated(run.info.run_id)
        version = client.create_model_version(
            REGISTERED_MODEL_NAME, f"{run.info.artifact_uri}/model", run_id=run.info.run_id
        )
        client.set_registered_model_alias(REGISTERED_MODEL_NAME, "champion", version.version)
        return str(version.version)


def register_bad_champion(project: Path, workdir: Path) -> str:
    """`deliberately_bad` registered as the new champion; its version."""
    return register_champion_variant(
        project, workdir, lambda model: pickle.dumps(deliberately_bad(model)), "deliberately bad"
    )


def copy_trained_project(trained: TrainedModel, destination: Path) -> Path:
    """A copy of a trained project (its registry, data and conf) without its prediction log."""
    return shutil.copytree(
        trained.project, destination, ignore=shutil.ignore_patterns("prediction_log")
    )


class SteadyLoad:
    """One client sending /predict back to back (cycling through `bodies`, at most one every
    `pace_seconds`) until stopped: every answer's status and model version, in order."""

    def __init__(self, url: str, bodies: list[dict], pace_seconds: float = 0.0):
        self.url, self.bodies, self.pace_seconds = url, bodies, pace_seconds
        self.answers: list[tuple[int, str | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        for body in itertools.cycle(self.bodies):
            if self._stop.is_set():
                return
            status, answer = http_request(f"{self.url}/predict", body, timeout=60)
            version = json.loads(answer).get("model_version") if status == 200 else None
            self.answers.append((status, version))
            self._stop.wait(self.pace_seconds)

    def __enter__(self) -> SteadyLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def versions(self) -> list[str | None]:
        return [version for _, version in self.answers]
