"""Real servers for tests, on 127.0.0.1 and free ports, always stopped.

Generic pieces (a free port, a subprocess that is waited for and always stopped, small HTTP
helpers) and the monitoring stack built on them: the project's alert receiver, Alertmanager and
Prometheus, each started from a *test copy* of the real configuration in ``monitoring/``:

- Prometheus: ``monitoring/prometheus.yml`` with a 1 s scrape and evaluation interval, its
  addresses rewritten to the test ports, and the rule files of ``monitoring/rules/`` copied with
  every ``for:`` shortened (the rules themselves are not duplicated).
- Alertmanager: ``monitoring/alertmanager.yml`` with short group timings and the webhook pointed
  at the test receiver.

``running_monitoring_stack(...)`` starts all three against any scrape target (the real service
in the integration test, a stand-in exporter in the monitoring tests) and yields a
``MonitoringStack`` that can query Prometheus and wait for alerts in the receiver's file.

The Prometheus and Alertmanager binaries come from Debian's ``prometheus`` and
``prometheus-alertmanager`` packages; ``require_binaries`` skips a test that needs a missing one.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MONITORING_DIR = PROJECT_ROOT / "monitoring"
RULES_DIR = MONITORING_DIR / "rules"
DEBIAN_PACKAGES = "prometheus prometheus-alertmanager prometheus-pushgateway"
LOCALHOST = "127.0.0.1"

# The addresses the real configuration uses for a local `make serve` + `make monitor`.
LOCAL_SERVICE = "127.0.0.1:3000"
LOCAL_PROMETHEUS = "127.0.0.1:9090"
LOCAL_ALERTMANAGER = "127.0.0.1:9093"
LOCAL_PUSHGATEWAY = "127.0.0.1:9091"

# Each tool under the names it has in Debian's packages and upstream.
BINARY_NAMES = {
    "prometheus": ("prometheus",),
    "promtool": ("promtool",),
    "alertmanager": ("prometheus-alertmanager", "alertmanager"),
    "amtool": ("amtool",),
    "pushgateway": ("prometheus-pushgateway", "pushgateway"),
}


# --- binaries -------------------------------------------------------------------------------


def find_binary(tool: str) -> str | None:
    """The path of a monitoring tool (``prometheus``, ``promtool``, ``alertmanager``, ``amtool``)."""
    for name in BINARY_NAMES[tool]:
        if path := shutil.which(name):
            return path
    return None


def require_binaries(*tools: str) -> dict[str, str]:
    """The tools' paths; skips the calling test, naming the Debian packages, if one is missing."""
    found = {tool: find_binary(tool) for tool in tools}
    missing = [tool for tool, path in found.items() if path is None]
    if missing:
        pytest.skip(
            f"{', '.join(missing)} not installed: apt-get install {DEBIAN_PACKAGES} "
            "(Debian packages; .ci/run installs them)"
        )
    return {tool: path for tool, path in found.items() if path is not None}


# --- ports, HTTP, waiting -------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return sock.getsockname()[1]


def http_request(
    url: str, payload: Any = None, *, method: str | None = None, timeout: float = 5
) -> tuple[int, bytes]:
    """(status, body) of a request; a ``payload`` (JSON-encoded unless bytes) makes it a POST.
    HTTP errors are returned, not raised."""
    if payload is None or isinstance(payload, bytes):
        data = payload
    else:
        data = json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_until(
    condition: Callable[[], Any], *, timeout: float, interval: float = 0.2, what: str = "condition"
) -> Any:
    """Poll ``condition`` until it returns something truthy; that value, or TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not met within {timeout:.0f} s")
        time.sleep(interval)


# --- processes ------------------------------------------------------------------------------


@dataclass
class ServerProcess:
    """A started server: its process, base URL and log file."""

    name: str
    url: str
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM, then SIGKILL to its own process group if it does not exit in time."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout)


@contextlib.contextmanager
def running_process(
    name: str,
    argv: list[str],
    *,
    url: str,
    ready_path: str,
    log_dir: Path,
    timeout: float = 30,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    answers: Callable[[], bool] | None = None,
) -> Iterator[ServerProcess]:
    """Start ``argv``, wait until ``url + ready_path`` answers 200 (or ``answers()`` is true, for
    a server that does not speak HTTP), yield it, always stop it.

    The process gets its own session (process group), so a server that forks workers can be
    stopped as a whole; its output goes to ``log_dir/<name>.log``, quoted if it fails to start.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    server = ServerProcess(name, url, process, log_path)
    try:

        def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {process.returncode} before it was ready:\n"
                    f"{server.log_tail()}"
                )
            if answers is not None:
                return answers()
            try:
                return http_request(url + ready_path, timeout=2)[0] == 200
            except OSError:
                return False

        try:
            wait_until(ready, timeout=timeout, interval=0.1, what=f"{name} ready at {url}")
        except TimeoutError as error:
            raise TimeoutError(f"{error}; its log:\n{server.log_tail()}") from None
        yield server
    finally:
        server.stop()


# --- test copies of the monitoring configuration ---------------------------------------------


def write_test_rules(destination: Path, *, for_duration: str = "2s") -> list[Path]:
    """Copies of ``monitoring/rules/*.yml`` with every alert's ``for:`` set to ``for_duration``."""
    destination.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sorted(RULES_DIR.glob("*.yml")):
        rules = yaml.safe_load(source.read_text())
        for group in rules["groups"]:
            for rule in group["rules"]:
                if "alert" in rule and "for" in rule:
                    rule["for"] = for_duration
        target = destination / source.name
        target.write_text(yaml.safe_dump(rules, sort_keys=False))
        written.append(target)
    return written


def _rewrite_targets(static_configs: list[dict], addresses: dict[str, str | None]) -> list[dict]:
    rewritten = []
    for static in static_configs:
        targets = [addresses.get(target, target) for target in static["targets"]]
        targets = [target for target in targets if target]
        if targets:
            rewritten.append({**static, "targets": targets})
    return rewritten


def write_test_prometheus_config(
    destination: Path,
    *,
    addresses: dict[str, str | None],
    rule_files: list[Path],
    interval: str = "1s",
) -> Path:
    """``monitoring/prometheus.yml`` with ``interval`` timings, test rules and test addresses.

    ``addresses`` maps the real config's addresses (``LOCAL_SERVICE``...) to test ones; an address
    mapped to None is dropped, and so is a scrape job or Alertmanager left without targets.
    """
    config = yaml.safe_load((MONITORING_DIR / "prometheus.yml").read_text())
    config["global"]["scrape_interval"] = interval
    config["global"]["evaluation_interval"] = interval
    config["rule_files"] = [str(path) for path in rule_files]
    jobs = []
    for job in config["scrape_configs"]:
        job["static_configs"] = _rewrite_targets(job["static_configs"], addresses)
        if job["static_configs"]:
            jobs.append(job)
    config["scrape_configs"] = jobs
    managers = []
    for manager in config.get("alerting", {}).get("alertmanagers", []):
        manager["static_configs"] = _rewrite_targets(manager["static_configs"], addresses)
        if manager["static_configs"]:
            managers.append(manager)
    if managers:
        config["alerting"]["alertmanagers"] = managers
    else:
        config.pop("alerting", None)
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_text(yaml.safe_dump(config, sort_keys=False))
    return destination


RETRAIN_RECEIVER = "rps-retrain"


def write_test_alertmanager_config(
    destination: Path,
    *,
    webhook_url: str,
    retrain_url: str | None = None,
    group_wait: str = "1s",
    group_interval: str = "1s",
) -> Path:
    """``monitoring/alertmanager.yml`` with short group timings, the file receiver's webhook sent
    to ``webhook_url`` and the retrain trigger's to ``retrain_url`` (without one, no retrain
    receiver nor route)."""
    config = yaml.safe_load((MONITORING_DIR / "alertmanager.yml").read_text())
    config["route"]["group_wait"] = group_wait
    config["route"]["group_interval"] = group_interval
    urls = {RETRAIN_RECEIVER: retrain_url}
    config["receivers"] = [
        r for r in config["receivers"] if r["name"] != RETRAIN_RECEIVER or retrain_url
    ]
    config["route"]["routes"] = [
        r for r in config["route"]["routes"] if r["receiver"] != RETRAIN_RECEIVER or retrain_url
    ]
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = urls.get(receiver["name"]) or webhook_url
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_text(yaml.safe_dump(config, sort_keys=False))
    return destination


# --- Prometheus HTTP API --------------------------------------------------------------------


class PrometheusQueryError(RuntimeError):
    """Prometheus answered a query with an error (a PromQL syntax error, an unknown function...)."""


@dataclass
class PrometheusAPI:
    url: str

    def _get(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode(params, doseq=True)
        status, body = http_request(f"{self.url}{path}?{query}")
        answer = json.loads(body)
        if status != 200 or answer.get("status") != "success":
            raise PrometheusQueryError(
                f"{path} {params}: HTTP {status} {answer.get('errorType')}: {answer.get('error')}"
            )
        return answer["data"]

    def query(self, expr: str, at: float | None = None) -> dict[str, Any]:
        """An instant query: ``{"resultType": ..., "result": [...]}``."""
        params = {"query": expr} if at is None else {"query": expr, "time": at}
        return self._get("/api/v1/query", **params)

    def query_range(self, expr: str, start: float, end: float, step: str = "1s") -> dict:
        return self._get("/api/v1/query_range", query=expr, start=start, end=end, step=step)

    def label_values(self, label: str, match: str | None = None) -> list[str]:
        params = {"match[]": match} if match else {}
        return self._get(f"/api/v1/label/{label}/values", **params)

    def targets(self) -> list[dict[str, Any]]:
        return self._get("/api/v1/targets")["activeTargets"]

    def alerts(self) -> list[dict[str, Any]]:
        return self._get("/api/v1/alerts")["alerts"]

    def rule_groups(self) -> list[dict[str, Any]]:
        return self._get("/api/v1/rules")["groups"]

    def wait_for_targets_up(self, timeout: float = 15) -> list[dict[str, Any]]:
        def all_up() -> list[dict[str, Any]] | None:
            targets = self.targets()
            return targets if targets and all(t["health"] == "up" for t in targets) else None

        return wait_until(all_up, timeout=timeout, what="every scrape target up")

    def wait_for_samples(self, expr: str, timeout: float = 15) -> list[dict[str, Any]]:
        """Wait until ``expr`` returns at least one sample with a finite value."""

        def finite() -> list[dict[str, Any]] | None:
            result = self.query(expr)["result"]
            values = [float(sample["value"][1]) for sample in result if "value" in sample]
            return result if any(math.isfinite(value) for value in values) else None

        return wait_until(finite, timeout=timeout, what=f"samples of {expr}")


# --- the stack ------------------------------------------------------------------------------


@dataclass
class MonitoringStack:
    """A running receiver, Alertmanager, Pushgateway and Prometheus; see
    ``running_monitoring_stack``."""

    prometheus: PrometheusAPI
    alertmanager_url: str
    receiver_url: str
    pushgateway_url: str
    alerts_file: Path
    servers: list[ServerProcess] = field(default_factory=list)

    def received_alerts(self) -> list[dict[str, Any]]:
        """Every line the receiver has written so far, parsed."""
        if not self.alerts_file.exists():
            return []
        return [json.loads(line) for line in self.alerts_file.read_text().splitlines() if line]

    def wait_for_alert(
        self, alertname: str, status: str = "firing", timeout: float = 30
    ) -> dict[str, Any]:
        """The first alert of that name and status in the receiver's file (waits for it)."""

        def arrived() -> dict[str, Any] | None:
            for record in self.received_alerts():
                if record["labels"].get("alertname") == alertname and record["status"] == status:
                    return record
            return None

        try:
            return wait_until(arrived, timeout=timeout, what=f"{status} {alertname} received")
        except TimeoutError as error:
            logs = "\n".join(f"--- {s.name}\n{s.log_tail(15)}" for s in self.servers)
            raise TimeoutError(
                f"{error}; Prometheus alerts: {self.prometheus.alerts()}\n{logs}"
            ) from None


@contextlib.contextmanager
def running_alert_receiver(output: Path, log_dir: Path) -> Iterator[ServerProcess]:
    """``python -m tools.alert_receiver`` on a free port, appending to ``output``."""
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "tools.alert_receiver",
        f"--host={LOCALHOST}",
        f"--port={port}",
        f"--output={output}",
    ]
    with running_process(
        "alert-receiver",
        argv,
        url=f"http://{LOCALHOST}:{port}",
        ready_path="/healthz",
        log_dir=log_dir,
        cwd=PROJECT_ROOT,
    ) as server:
        yield server


@contextlib.contextmanager
def running_retrain_trigger(
    log_dir: Path,
    *,
    airflow_url: str,
    credentials: dict[str, str],
    **settings: str,
) -> Iterator[ServerProcess]:
    """``python -m rps_kedro.retraining`` on a free port, starting DAG runs at ``airflow_url``
    with ``credentials`` (the environment's ``RPS_AIRFLOW_<TOKEN|USERNAME|PASSWORD>``);
    ``settings`` are overrides of conf/base/retraining.yml written to a conf/local of its own."""
    port = free_port()
    conf = log_dir / "retrain-conf"
    shutil.copytree(PROJECT_ROOT / "conf/base", conf / "base", dirs_exist_ok=True)
    (conf / "local").mkdir(exist_ok=True)
    (conf / "local/retraining.yml").write_text(yaml.safe_dump({"retraining": settings}))
    argv = [
        sys.executable,
        "-m",
        "rps_kedro.retraining",
        f"--host={LOCALHOST}",
        f"--port={port}",
        f"--conf={conf}",
    ]
    env = {
        **os.environ,
        "RPS_AIRFLOW_URL": airflow_url,
        **{f"RPS_AIRFLOW_{key.upper()}": value for key, value in credentials.items()},
    }
    with running_process(
        "retrain-trigger",
        argv,
        url=f"http://{LOCALHOST}:{port}",
        ready_path="/healthz",
        log_dir=log_dir,
        env=env,
        cwd=PROJECT_ROOT,
    ) as server:
        yield server


@contextlib.contextmanager
def running_alertmanager(
    workdir: Path, *, webhook_url: str, retrain_url: str | None = None
) -> Iterator[ServerProcess]:
    """Alertmanager on a free port with the test copy of ``monitoring/alertmanager.yml``."""
    binary = require_binaries("alertmanager")["alertmanager"]
    port = free_port()
    config = write_test_alertmanager_config(
        workdir / "alertmanager.yml", webhook_url=webhook_url, retrain_url=retrain_url
    )
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.path={workdir / 'alertmanager-data'}",
        f"--web.listen-address={LOCALHOST}:{port}",
        f"--web.external-url=http://{LOCALHOST}:{port}",
        "--cluster.listen-address=",  # no gossip cluster: no second port, no peers
    ]
    with _running_on_loopback("alertmanager", argv, port, workdir) as server:
        yield server


@contextlib.contextmanager
def running_pushgateway(workdir: Path) -> Iterator[ServerProcess]:
    """The Prometheus Pushgateway on a free port, persisting pushed samples in ``workdir`` (not
    at the binary's default, Debian's /var/lib/prometheus/pushgateway.data, which every run
    would share)."""
    binary = require_binaries("pushgateway")["pushgateway"]
    port = free_port()
    argv = [
        binary,
        f"--web.listen-address={LOCALHOST}:{port}",
        f"--persistence.file={workdir / 'pushgateway.data'}",
    ]
    with _running_on_loopback("pushgateway", argv, port, workdir) as server:
        yield server


@contextlib.contextmanager
def _running_on_loopback(
    name: str, argv: list[str], port: int, workdir: Path
) -> Iterator[ServerProcess]:
    """A Prometheus project's server on 127.0.0.1:`port`, ready once /-/ready answers."""
    with running_process(
        name, argv, url=f"http://{LOCALHOST}:{port}", ready_path="/-/ready", log_dir=workdir
    ) as server:
        yield server


@contextlib.contextmanager
def running_prometheus(
    workdir: Path,
    *,
    service_target: str | None,
    alertmanager_address: str | None = None,
    pushgateway_address: str | None = None,
    for_duration: str = "2s",
    interval: str = "1s",
) -> Iterator[tuple[ServerProcess, PrometheusAPI]]:
    """Prometheus on a free port with the test copies of ``monitoring/prometheus.yml`` and rules.

    ``service_target`` (host:port) replaces the service's address in job ``rps_service``;
    Prometheus scrapes itself at its test port; the Alertmanager job and alerting go to
    ``alertmanager_address`` and the Pushgateway job to ``pushgateway_address``, or are dropped
    when it is None.
    """
    binary = require_binaries("prometheus")["prometheus"]
    port = free_port()
    address = f"{LOCALHOST}:{port}"
    rules = write_test_rules(workdir / "rules", for_duration=for_duration)
    config = write_test_prometheus_config(
        workdir / "prometheus.yml",
        addresses={
            LOCAL_SERVICE: service_target,
            LOCAL_PROMETHEUS: address,
            LOCAL_ALERTMANAGER: alertmanager_address,
            LOCAL_PUSHGATEWAY: pushgateway_address,
        },
        rule_files=rules,
        interval=interval,
    )
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'prometheus-data'}",
        f"--web.listen-address={address}",
        f"--web.external-url=http://{address}",  # the alerts' generatorURL
        "--rules.alert.resend-delay=1s",
    ]
    with running_process(
        "prometheus", argv, url=f"http://{address}", ready_path="/-/ready", log_dir=workdir
    ) as server:
        yield server, PrometheusAPI(server.url)


@contextlib.contextmanager
def running_monitoring_stack(
    workdir: Path,
    *,
    service_target: str,
    for_duration: str = "2s",
    interval: str = "1s",
    retrain_url: str | None = None,
) -> Iterator[MonitoringStack]:
    """The alert receiver, Alertmanager, the Pushgateway and Prometheus (scraping
    ``service_target`` and the Pushgateway), chained the way ``make monitor`` chains them; all
    stopped on exit. With ``retrain_url``, Alertmanager routes the retrain alerts there too."""
    alerts_file = workdir / "alerts" / "alerts.jsonl"
    with contextlib.ExitStack() as stack:
        receiver = stack.enter_context(running_alert_receiver(alerts_file, workdir))
        alertmanager = stack.enter_context(
            running_alertmanager(
                workdir, webhook_url=f"{receiver.url}/alerts", retrain_url=retrain_url
            )
        )
        pushgateway = stack.enter_context(running_pushgateway(workdir))
        prometheus, api = stack.enter_context(
            running_prometheus(
                workdir,
                service_target=service_target,
                alertmanager_address=alertmanager.url.removeprefix("http://"),
                pushgateway_address=pushgateway.url.removeprefix("http://"),
                for_duration=for_duration,
                interval=interval,
            )
        )
        yield MonitoringStack(
            prometheus=api,
            alertmanager_url=alertmanager.url,
            receiver_url=receiver.url,
            pushgateway_url=pushgateway.url,
            alerts_file=alerts_file,
            servers=[receiver, alertmanager, pushgateway, prometheus],
        )
