"""Serving benchmark: the same model behind (a) the BentoML service, (b) a minimal FastAPI +
uvicorn app and (c) a direct in-process call (the floor), driven by the same closed-loop load
generator at several concurrencies for a fixed duration each.

Each target runs in its own process, started from a champion trained in a project copy (the
default model, two symbols) and imported into a temporary BentoML home. The HTTP load is
`wrk` (Debian package `wrk`: one C thread, `concurrency` keep-alive connections, closed loop)
when it is installed, else Python threads with one keep-alive connection each (their own CPU
use then weighs on the server's figures: say which in the figures). Both send the same
pre-encoded /predict body (one symbol, exactly the model's lookback of bars) and share the
machine with the server, as a client on the same 2 cores would. A single request is also
profiled stage by stage.

The Bento is measured too: `bentoml build` (its size on disk, by part) and the built Bento's
cold start, from `bentoml serve` process start to the first /readyz 200.

`python -m benchmarks.bench_serving` writes data/08_reporting/benchmarks/serving.json.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import write_figures
from rps_kedro.core.forecasters import FeatureRows
from rps_kedro.core.model_names import REGISTERED_MODEL_NAME
from rps_kedro.serving.settings import settings
from tests.conftest import PROJECT_ROOT
from tests.serving.support import (
    BIN,
    QUIET,
    TrainedModel,
    bentoml_server,
    server_home,
    session_model,
)
from tests.support.servers import LOCALHOST, free_port, running_process
from tools.replay_traffic import predict_body

CONCURRENCIES = (1, 8, 32)
DURATION_SECONDS = 10.0
WARM_UP_SECONDS = 2.0
BATCH_SYMBOLS = 16  # symbols per /predict_batch request in its own measurement
PROFILE_REQUESTS = 200
# Issue 12's goals. At concurrency 32 a closed loop holds 32 requests in flight, so the mean
# latency is 32 / throughput (Little's law): p99 <= 20 ms needs >= 1,600 requests/s.
GOALS = {
    "concurrency_32": {"requests_per_second": 400.0, "p99_ms": 20.0},
    "concurrency_1": {"p50_ms": 3.0},
    "bentoml_vs_fastapi": 1.0,
    "cold_start_seconds": 10.0,
}
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open(os.getenv("RPS_BENCH_BODY"), "rb"):read("*a")
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %f %f %f %f\\n", summary.requests,
    e.connect + e.read + e.write + e.status + e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""
SERVICE = "rps_kedro.serving.service:RpsService"
SYMBOL = "BTC-USD"
TARGETS = ("bentoml", "bentoml_unbatched", "fastapi", "in_process")
MS = 1000.0
PROTOCOL = "bench-floor:"  # prefix of the floor process's answers on its stdout
COLD_STARTS = 3  # `bentoml serve` starts of the built Bento, timed to the first /readyz 200
MIB = 1024 * 1024


# --- the load generator ---------------------------------------------------------------------


def closed_loop(
    make_sender: Callable[[], Callable[[], bool]], concurrency: int, duration: float
) -> dict[str, Any]:
    """`concurrency` threads, each sending its next request when the last one answered, for
    `duration` seconds: requests/s, latency percentiles (ms) and errors (not 200)."""
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    start = threading.Barrier(concurrency + 1)
    deadline = [0.0]

    def client(index: int) -> None:
        send = make_sender()
        start.wait()
        while (began := time.perf_counter()) < deadline[0]:
            ok = send()
            latencies[index].append(time.perf_counter() - began)
            errors[index] += not ok

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + duration
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    return summarise(np.concatenate([np.array(x) for x in latencies]), sum(errors), elapsed)


def summarise(latencies: np.ndarray, errors: int, elapsed: float) -> dict[str, Any]:
    if latencies.size == 0:
        return {"requests": 0, "errors": errors, "requests_per_second": 0.0}
    p50, p95, p99 = np.percentile(latencies * MS, [50, 95, 99])
    return {
        "requests": int(latencies.size),
        "errors": int(errors),
        "requests_per_second": round(latencies.size / elapsed, 1),
        "p50_ms": round(float(p50), 2),
        "p95_ms": round(float(p95), 2),
        "p99_ms": round(float(p99), 2),
        "max_ms": round(float(latencies.max() * MS), 2),
    }


def http_sender(url: str, path: str, body: bytes) -> Callable[[], Callable[[], bool]]:
    """A factory of senders, each with its own keep-alive connection."""
    address = urllib.parse.urlsplit(url)
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}

    def make() -> Callable[[], bool]:
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)

        def send() -> bool:
            try:
                connection.request("POST", path, body, headers)
                response = connection.getresponse()
                response.read()
                return response.status == 200
            except OSError:
                connection.close()
                return False

        return send

    return make


def wrk_loop(url: str, body_file: Path, concurrency: int, duration: float) -> dict[str, Any]:
    """`wrk` on one thread with `concurrency` connections for `duration` seconds, summarised
    like closed_loop (errors: non-2xx answers and socket errors)."""
    script = body_file.with_suffix(".lua")
    script.write_text(WRK_SCRIPT)
    result = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(duration))}s", "-s", str(script), url],
        env={**os.environ, "RPS_BENCH_BODY": str(body_file)},
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=True,
    )
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))
    requests, errors, micros, p50, p95, p99, longest = (float(x) for x in line.split()[1:])
    return {
        "requests": int(requests),
        "errors": int(errors),
        "requests_per_second": round(requests / (micros / 1e6), 1),
        **{
            f"{name}_ms": round(value / MS, 2)
            for name, value in (("p50", p50), ("p95", p95), ("p99", p99), ("max", longest))
        },
    }


def http_load(url: str, path: str, body_file: Path) -> Callable[[int, float], dict[str, Any]]:
    """How to load an HTTP target: wrk when installed, else the Python closed loop."""
    if shutil.which("wrk"):
        return lambda c, d: wrk_loop(url + path, body_file, c, d)
    make = http_sender(url, path, body_file.read_bytes())
    return lambda c, d: closed_loop(make, c, d)


def load_generator() -> str:
    if shutil.which("wrk"):
        return "wrk: one thread, one keep-alive connection per concurrent client, closed loop"
    return "Python closed loop: one thread and keep-alive connection per client"


# --- the floor: the request path in-process, and one request profiled ------------------------


def _load_in_process(model_dir: Path) -> Any:
    """The predictor from the stored MLflow model, set up as the service sets up its worker."""
    from rps_kedro.serving.batching import inference_executor  # noqa: PLC0415
    from rps_kedro.serving.inference import ModelInfo, Predictor, example_items  # noqa: PLC0415

    with inference_executor(1) as executor:
        predictor = Predictor.from_mlflow_model(
            model_dir, ModelInfo(REGISTERED_MODEL_NAME, "bench", "champion")
        )
        executor.submit(predictor.predict, example_items(predictor.model)).result()
    import gc  # noqa: PLC0415

    gc.collect()
    gc.freeze()
    return predictor


def _request_path(predictor: Any, body: bytes) -> Callable[[], bytes]:
    """What a request costs without HTTP: parse, check, model call, serialise the answer."""
    from rps_kedro.serving.schemas import Prediction, PredictRequest  # noqa: PLC0415

    limits = settings().limits

    def call() -> bytes:
        request = PredictRequest.model_validate_json(body)
        items = predictor.items([(request.symbol, request.bars)], [()], limits)
        outcome = predictor.predict(items)[0]
        return Prediction.model_construct(**outcome.prediction).model_dump_json().encode()

    return call


def profile_request(predictor: Any, body: bytes, repeats: int) -> dict[str, float]:
    """Median milliseconds of each stage of one /predict request, in the service's order."""
    from rps_kedro.serving.prediction_log import PredictionLog, request_rows  # noqa: PLC0415
    from rps_kedro.serving.schemas import Prediction, PredictRequest  # noqa: PLC0415

    limits = settings().limits
    model = predictor.model
    stages: dict[str, list[float]] = {}
    log = PredictionLog(Path(tempfile.mkdtemp(prefix="bench-prediction-log-")))

    def timed(name: str, function: Callable[[], Any]) -> Any:
        began = time.perf_counter()
        result = function()
        stages.setdefault(name, []).append((time.perf_counter() - began) * MS)
        return result

    for _ in range(repeats):
        request = timed("parse_json_pydantic", lambda: PredictRequest.model_validate_json(body))
        items = timed(
            "check_bars",
            lambda r=request: predictor.items([(r.symbol, r.bars)], [()], limits),
        )
        bars, rows = timed("build_columns", lambda i=items: predictor.bars(i))
        latest = timed("feature_matrix", lambda b=bars, r=rows: model.feature_matrix(b, r))
        timed("predict_rows", lambda b=bars, r=rows, x=latest: model.predict_rows(b, r, x))
        timed(  # part of predict_rows
            "next_bar_calendar_alone",
            lambda b=bars, r=rows: model.next_bar_ns(b.symbol[r], b.timestamp_ns[r]),
        )
        timed(  # part of predict_rows
            "forecaster_alone",
            lambda x=latest: model.forecaster.forecast(FeatureRows(x, model.feature_names)),
        )
        outcome = predictor.predict(items)[0]
        timed(
            "serialise_answer",
            lambda o=outcome: Prediction.model_construct(**o.prediction).model_dump_json(),
        )
        timed(  # what the request path pays; the writes happen on the log's own thread
            "log_prediction",
            lambda o=outcome: log.record(request_rows([(o.prediction, o.baselines)], "bench")),
        )
        timed("whole_model_call", lambda i=items: predictor.predict(i))
    log.close()
    shutil.rmtree(log.directory)
    return {name: round(float(np.median(times)), 3) for name, times in stages.items()}


def floor_main(arguments: argparse.Namespace) -> None:
    """A process of its own (OMP_NUM_THREADS=1 before scikit-learn loads, like the service),
    answering JSON commands on stdin: {"concurrency", "duration"} or {"profile": repeats}."""
    predictor = _load_in_process(Path(arguments.model_dir))
    body = Path(arguments.body).read_bytes()
    call = _request_path(predictor, body)

    def make() -> Callable[[], bool]:
        return lambda: bool(call())  # concurrent calls interleave under the GIL

    print(PROTOCOL, json.dumps({"ready": True}), flush=True)  # noqa: T201
    for line in sys.stdin:
        command = json.loads(line)
        if "profile" in command:
            answer = profile_request(predictor, body, command["profile"])
        else:
            answer = closed_loop(make, command["concurrency"], command["duration"])
        print(PROTOCOL, json.dumps(answer), flush=True)  # noqa: T201


class Floor:
    """The in-process floor's process, driven by the same commands as the servers' load."""

    def __init__(self, model_dir: Path, body_file: Path, log: Path):
        command = [
            str(BIN / "python"),
            "-m",
            "benchmarks.bench_serving",
            "floor",
            f"--model-dir={model_dir}",
            f"--body={body_file}",
        ]
        environment = {**os.environ, **QUIET, "OMP_NUM_THREADS": "1"}
        self._log = log.open("w")
        self.process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self._read()

    def _read(self) -> Any:
        while line := self.process.stdout.readline():
            if line.startswith(PROTOCOL):  # anything else is a library printing
                return json.loads(line.removeprefix(PROTOCOL))
        raise RuntimeError(f"the in-process floor exited; see {self._log.name}")

    def ask(self, command: dict[str, Any]) -> Any:
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


# --- the servers --------------------------------------------------------------------------


@contextlib.contextmanager
def fastapi_server(bentoml_home: Path, log_dir: Path) -> Iterator[Any]:
    port = free_port()
    argv = [
        str(BIN / "uvicorn"),
        "benchmarks.fastapi_reference:app",
        f"--host={LOCALHOST}",
        f"--port={port}",
        f"--workers={settings().service.workers}",  # the service's process model
        "--no-access-log",
        "--log-level=warning",
    ]
    environment = {**os.environ, **QUIET, "BENTOML_HOME": str(bentoml_home)}
    with running_process(
        f"fastapi-{port}",
        argv,
        url=f"http://{LOCALHOST}:{port}",
        ready_path="/readyz",
        log_dir=log_dir,
        timeout=300,
        env=environment,
        cwd=PROJECT_ROOT,
    ) as server:
        yield server


def _unbatched_conf(destination: Path) -> Path:
    """The project's conf with the service's batching switched off (conf/<env> override)."""
    conf = destination / "conf"
    (conf / "base").mkdir(parents=True)
    (conf / "base/serving.yml").write_text((PROJECT_ROOT / "conf/base/serving.yml").read_text())
    (conf / "bench").mkdir()
    (conf / "bench/serving.yml").write_text("serving:\n  batching:\n    enabled: false\n")
    return conf


def _model_dir(model: TrainedModel) -> Path:
    return store_folder(model.bentoml_home, "models", model.tag) / "mlflow_model"


def goals_met(figures: dict[str, Any]) -> dict[str, Any]:
    """Issue 12's goals against the measured figures (None where a figure was not measured)."""

    def at(target: str, concurrency: int) -> dict[str, Any]:
        return figures.get(target, {}).get(str(concurrency), {})

    def within(measured: dict[str, Any], goal: dict[str, float]) -> bool | None:
        if not measured:
            return None
        fast = all(measured.get(k, np.inf) <= v for k, v in goal.items() if k.endswith("_ms"))
        busy = measured["requests_per_second"] >= goal.get("requests_per_second", 0.0)
        return bool(fast and busy and measured["errors"] == 0)

    bento, bare = at("bentoml", 32), at("fastapi", 32)
    ratio = bento["requests_per_second"] / bare["requests_per_second"] if bento and bare else None
    cold = figures.get("bento", {}).get("cold_start_median_seconds")
    return {
        "concurrency_32": within(bento, GOALS["concurrency_32"]),
        "concurrency_1": within(at("bentoml", 1), GOALS["concurrency_1"]),
        "bentoml_vs_fastapi": None if ratio is None else round(ratio, 2),
        "bentoml_vs_fastapi_met": None if ratio is None else ratio >= GOALS["bentoml_vs_fastapi"],
        "cold_start": None if cold is None else cold <= GOALS["cold_start_seconds"],
    }


def _per_symbol(figures: dict[str, Any]) -> dict[str, Any]:
    return {**figures, "symbols_per_second": figures["requests_per_second"] * BATCH_SYMBOLS}


def _start(
    target: str, model: TrainedModel, work: Path, stack: contextlib.ExitStack
) -> tuple[Callable[[int, float], dict[str, Any]], Any]:
    """Start a target; return how to load it (concurrency, seconds) and its server or floor."""
    home = server_home(model.bentoml_home, work / f"home-{target}")
    if target == "in_process":
        floor = Floor(_model_dir(model), work / "body.json", work / "floor.log")
        stack.callback(floor.close)
        return (lambda c, d: floor.ask({"concurrency": c, "duration": d})), floor
    if target == "fastapi":
        server = stack.enter_context(fastapi_server(home, work / "logs"))
    else:
        unbatched = target == "bentoml_unbatched"
        server = stack.enter_context(
            bentoml_server(
                SERVICE,
                home,
                work / "logs",
                conf_source=_unbatched_conf(work) if unbatched else PROJECT_ROOT / "conf",
                KEDRO_ENV="bench" if unbatched else os.environ.get("KEDRO_ENV", "local"),
            )
        )
    return http_load(server.url, "/predict", work / "body.json"), server


def run(
    model: TrainedModel,
    concurrencies: tuple[int, ...] = CONCURRENCIES,
    duration: float = DURATION_SECONDS,
    warm_up: float = WARM_UP_SECONDS,
    targets: tuple[str, ...] = TARGETS,
) -> dict[str, Any]:
    """All targets up at once; at each concurrency every target in turn (a change in the
    machine's other load hits them alike), after a warm-up at the highest concurrency."""
    body = json.dumps(predict_body(SYMBOL, model.recent_bars(SYMBOL, _lookback()))).encode()
    load_before = os.getloadavg()
    results: dict[str, Any] = {target: {} for target in targets}
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        work = Path(tmp)
        (work / "body.json").write_bytes(body)
        started = {target: _start(target, model, work, stack) for target in targets}
        for load, _ in started.values():
            load(max(concurrencies), warm_up)
        for concurrency in concurrencies:
            for target, (load, _) in started.items():
                results[target][str(concurrency)] = load(concurrency, duration)
        if "bentoml" in started:
            batch_body = json.dumps({"requests": [json.loads(body)] * BATCH_SYMBOLS}).encode()
            (work / "batch.json").write_bytes(batch_body)
            batch = http_load(started["bentoml"][1].url, "/predict_batch", work / "batch.json")
            results["bentoml_predict_batch"] = {
                str(c): _per_symbol(batch(c, duration)) for c in concurrencies[:2]
            }
        if "in_process" in started:
            repeats = PROFILE_REQUESTS if duration >= DURATION_SECONDS else 3
            results["profile_ms"] = started["in_process"][1].ask({"profile": repeats})
    return {
        "model": {"tag": model.tag, "symbol": SYMBOL, "bars_per_request": _lookback()},
        "load_generator": load_generator(),
        "duration_seconds": duration,
        "load_average_before_after": [load_before, os.getloadavg()],
        "goals": GOALS,
        **results,
    }


# --- the Bento: size and cold start ----------------------------------------------------------


def build_bento(model: TrainedModel, home: Path) -> str:
    """`bentoml build` with the project's bentofile.yaml into BentoML home `home`; the tag."""
    result = subprocess.run(
        [str(BIN / "bentoml"), "build", "--output=tag"],
        cwd=model.project,
        env={**os.environ, **QUIET, "BENTOML_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1].removeprefix("__tag__:")


def tree_mib(path: Path) -> float:
    """Bytes of every file under `path`, in MiB."""
    files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
    return round(sum(f.stat().st_size for f in files) / MIB, 3)


def store_folder(home: Path, store: str, tag: str) -> Path:
    """Where BentoML home `home` keeps `tag` in its `store` ("bentos" or "models")."""
    return home.joinpath(store, *tag.split(":"))


def bento_size(home: Path, tag: str, model_tag: str) -> dict[str, float]:
    """The built Bento's size in MiB, whole and per top-level part, and the model it references
    (kept in the model store; `bentoml export` and containerize add it)."""
    folder = store_folder(home, "bentos", tag)
    return {
        "bento_mib": tree_mib(folder),
        "model_mib": tree_mib(store_folder(home, "models", model_tag)),
    } | {f"bento_{part.name}_mib": tree_mib(part) for part in sorted(folder.iterdir())}


def cold_start_seconds(tag: str, home: Path, log_dir: Path) -> float:
    """`bentoml serve <tag>` from process start until /readyz first answers 200."""
    started = time.perf_counter()
    with bentoml_server(tag, home, log_dir, cwd=log_dir):
        return round(time.perf_counter() - started, 3)


def bento_figures(model: TrainedModel, work: Path, starts: int = COLD_STARTS) -> dict[str, Any]:
    """Build the Bento in a fresh home holding the model; its size and `starts` cold starts."""
    home = server_home(model.bentoml_home, work / "home-bento")
    tag = build_bento(model, home)
    seconds = [cold_start_seconds(tag, home, work) for _ in range(starts)]
    return {
        "tag": tag,
        "size": bento_size(home, tag, model.tag),
        "cold_start_seconds": seconds,
        "cold_start_median_seconds": float(np.median(seconds)),
    }


def _lookback() -> int:
    from rps_kedro.core.features import required_lookback  # noqa: PLC0415
    from tests.conftest import project_parameters  # noqa: PLC0415

    return required_lookback(project_parameters()["features"])


def table(figures: dict[str, Any]) -> str:
    """The figures as a Markdown table."""
    lines = [
        "| target | concurrency | req/s | p50 ms | p95 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for target in TARGETS:
        for concurrency, r in figures.get(target, {}).items():
            lines.append(
                f"| {target} | {concurrency} | {r['requests_per_second']} | {r.get('p50_ms')} |"
                f" {r.get('p95_ms')} | {r.get('p99_ms')} | {r['errors']} |"
            )
    return "\n".join(lines)


def main() -> None:
    """Train the default model in a project copy, then measure every target."""
    with tempfile.TemporaryDirectory() as tmp:
        model = session_model(Path(tmp), small_model=False)
        figures = run(model) | {"bento": bento_figures(model, Path(tmp))}
    figures["goals_met"] = goals_met(figures)
    path = write_figures("serving", figures)
    print(table(figures))  # noqa: T201
    print(f"profile of one request (ms): {figures['profile_ms']}")  # noqa: T201
    print(f"bento: {figures['bento']}\n{path}")  # noqa: T201


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", nargs="?", default="all", choices=["all", "floor"])
    parser.add_argument("--model-dir")
    parser.add_argument("--body")
    parsed = parser.parse_args()
    if parsed.mode == "floor":
        floor_main(parsed)
    else:
        main()
