"""Airflow 3 for the tests, from its own environment (orchestration/.venv, `make airflow-setup`):
a throwaway home whose SQLite metadata DB reads a project copy's DAGs, and ``running_airflow``:
the api-server (simple auth manager, one admin) and, when asked, the scheduler (LocalExecutor)
that runs the tasks, both on loopback, always stopped."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT_ROOT, project_environment, run_command
from tests.support.servers import (
    LOCALHOST,
    ServerProcess,
    free_port,
    http_request,
    running_process,
    wait_until,
)

AIRFLOW_PYTHON = Path(
    os.environ.get("RPS_AIRFLOW_PYTHON", PROJECT_ROOT / "orchestration/.venv/bin/python")
)
AIRFLOW = AIRFLOW_PYTHON.parent / "airflow"
DAGS_FOLDER = "airflow_dags"
ADMIN = "admin"
ADMIN_PASSWORD = "test-password-not-logged"  # noqa: S105 (a throwaway Airflow's)
FINISHED = {"success", "failed"}
TASK_LOG_KEYS = ("task_id=", "map_index=")


def require_airflow() -> Path:
    """The Airflow environment's python; skips (fails under CI) when it is not installed."""
    if not AIRFLOW_PYTHON.exists():
        message = (
            f"Airflow environment not found at {AIRFLOW_PYTHON}: run `make airflow-setup` "
            "(uv sync --locked --project orchestration)"
        )
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must install it (make test depends on airflow-setup)")
        pytest.skip(message)
    return AIRFLOW_PYTHON


def airflow_environment(project: Path, home: Path) -> dict[str, str]:
    """Airflow with a throwaway home and SQLite metadata DB, reading the project copy's DAGs."""
    inherited = {
        k: v for k, v in project_environment(project).items() if not k.startswith("AIRFLOW")
    }
    home.mkdir(parents=True, exist_ok=True)
    return {
        **inherited,
        "PATH": f"{AIRFLOW_PYTHON.parent}{os.pathsep}{inherited.get('PATH', '')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(project / DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }


def airflow_command(arguments: list[str], project: Path, environment: dict[str, str]) -> str:
    """`airflow <arguments>` in the project copy; its output, or RuntimeError with it."""
    completed = run_command([AIRFLOW, *arguments], project, environment, timeout=300)
    if completed.returncode != 0:
        raise RuntimeError(
            f"airflow {' '.join(arguments)} failed:\n{completed.stdout[-3000:]}"
            f"\n{completed.stderr[-3000:]}"
        )
    return completed.stdout


def server_environment(environment: dict[str, str], home: Path, url: str) -> dict[str, str]:
    """The api-server's and the scheduler's settings: one admin (password in a file), the
    LocalExecutor reporting to this api-server, triggered runs only (no schedule), every port
    a free one on loopback."""
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({ADMIN: ADMIN_PASSWORD}))
    return {
        **environment,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),  # shared by both processes
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": LOCALHOST,
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
    }


@dataclass(frozen=True)
class CeleryBackends:
    """What CeleryExecutor machines share: the broker (Redis) and the metadata DB (PostgreSQL)."""

    broker_url: str
    database_url: str

    def settings(self) -> dict[str, str]:
        """Airflow's settings for them (the task results kept in the metadata DB too)."""
        return {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.database_url,
            "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self.database_url.replace("+psycopg2", ""),
        }


@dataclass
class RunningAirflow:
    """A started api-server (and scheduler, Celery workers): its URL, an admin token and the DAG
    runs API."""

    api: ServerProcess
    scheduler: ServerProcess | None
    workers: dict[str, Path] = field(default_factory=dict)  # worker name -> its task-log folder

    @property
    def url(self) -> str:
        return self.api.url

    def token(self) -> str:
        """A JWT for the admin from POST /auth/token."""
        status, body = http_request(
            f"{self.url}/auth/token", {"username": ADMIN, "password": ADMIN_PASSWORD}
        )
        assert status in (200, 201), body
        return json.loads(body)["access_token"]

    @contextlib.contextmanager
    def dag_runs(self) -> Iterator[Any]:
        """apache-airflow-client's DagRunApi, authenticated as the admin."""
        from airflow_client.client import ApiClient, Configuration  # noqa: PLC0415
        from airflow_client.client.api.dag_run_api import DagRunApi  # noqa: PLC0415

        with ApiClient(Configuration(host=self.url, access_token=self.token())) as client:
            yield DagRunApi(client)

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        """Start a run of `dag_id` with `conf` (POST /api/v2/dags/{dag_id}/dagRuns); its id."""
        from airflow_client.client.models.trigger_dag_run_post_body import (  # noqa: PLC0415
            TriggerDAGRunPostBody,
        )

        with self.dag_runs() as api:
            body = TriggerDAGRunPostBody(logical_date=None, conf=conf)
            return api.trigger_dag_run(dag_id, body).dag_run_id

    def task_durations(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        """Each task instance of a run: its state, start and end (UTC) and duration (s)."""
        from airflow_client.client import ApiClient, Configuration  # noqa: PLC0415
        from airflow_client.client.api.task_instance_api import TaskInstanceApi  # noqa: PLC0415

        with ApiClient(Configuration(host=self.url, access_token=self.token())) as client:
            instances = TaskInstanceApi(client).get_task_instances(dag_id, run_id).task_instances
        return {
            task_instance_name(ti.task_id, ti.map_index): {
                "state": ti.state.value if ti.state else None,
                "start": ti.start_date,
                "end": ti.end_date,
                "seconds": ti.duration,
            }
            for ti in instances
        }

    def wait_until_finished(self, dag_id: str, run_id: str, timeout: float) -> Any:
        """The DAG run once it succeeded or failed (TimeoutError otherwise)."""
        with self.dag_runs() as api:

            def finished() -> Any:
                run = api.get_dag_run(dag_id, run_id)
                return run if run.state.value in FINISHED else None

            return wait_until(finished, timeout=timeout, interval=1, what=f"{run_id} finished")

    def logs(self) -> str:
        """The servers' logs, for a failure's message."""
        servers = [self.api, *([self.scheduler] if self.scheduler else [])]
        return "\n".join(f"--- {s.name}\n{s.log_tail()}" for s in servers)

    def tasks_run_by(self, dag_id: str, run_id: str) -> dict[str, set[str]]:
        """Which worker ran which task instances of a run (`task_id[map_index]`), read from the
        task logs each worker wrote into its own folder."""
        return {
            worker: {
                _task_instance_name(log)
                for log in folder.glob(f"dag_id={dag_id}/run_id={run_id}/task_id=*/**/*.log")
            }
            for worker, folder in self.workers.items()
        }


def task_instance_name(task_id: str, map_index: int) -> str:
    """`task_id`, or `task_id[map_index]` for an instance of a mapped task."""
    return task_id if map_index < 0 else f"{task_id}[{map_index}]"


def _task_instance_name(log: Path) -> str:
    """`task_id` or `task_id[map_index]` from a task log's path."""
    parts = dict(part.split("=", 1) for part in log.parts if part.startswith(TASK_LOG_KEYS))
    return task_instance_name(parts["task_id"], int(parts.get("map_index", -1)))


@contextlib.contextmanager
def running_airflow(
    project: Path,
    workdir: Path,
    *,
    scheduler: bool = False,
    celery: CeleryBackends | None = None,
    workers: int = 2,
    timeout: float = 240,
) -> Iterator[RunningAirflow]:
    """A migrated metadata DB with the project copy's DAGs serialized, then `airflow api-server`
    and (with ``scheduler``) `airflow scheduler` on loopback, run from the project copy. With
    ``celery``: the CeleryExecutor on those backends and ``workers`` `airflow celery worker`s,
    each writing its task logs into its own folder (as on separate machines)."""
    require_airflow()
    home = workdir / "airflow"
    port = free_port()
    url = f"http://{LOCALHOST}:{port}"
    environment = server_environment(airflow_environment(project, home), home, url)
    if celery is not None:
        environment |= celery.settings()
    airflow_command(["db", "migrate"], project, environment)
    airflow_command(["dags", "reserialize"], project, environment)
    with contextlib.ExitStack() as stack:
        api = stack.enter_context(
            running_process(
                "airflow-api-server",
                [str(AIRFLOW), "api-server", "--host", LOCALHOST, "--port", str(port)],
                url=url,
                ready_path="/api/v2/monitor/health",
                log_dir=workdir,
                env=environment,
                cwd=project,
                timeout=timeout,
            )
        )
        worker_logs = {}
        for number in range(1, (workers if celery is not None else 0) + 1):
            name = f"worker-{number}"
            worker_logs[name] = home / f"logs-{name}"
            stack.enter_context(
                running_celery_worker(name, project, workdir, environment, worker_logs[name])
            )
        started = None
        if scheduler:
            health = environment["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"]
            started = stack.enter_context(
                running_process(
                    "airflow-scheduler",
                    [str(AIRFLOW), "scheduler"],
                    url=f"http://{LOCALHOST}:{health}",
                    ready_path="/health",
                    log_dir=workdir,
                    env=environment,
                    cwd=project,
                    timeout=timeout,
                )
            )
        yield RunningAirflow(api, started, worker_logs)


def running_celery_worker(
    name: str, project: Path, workdir: Path, environment: dict[str, str], task_logs: Path
) -> contextlib.AbstractContextManager[ServerProcess]:
    """`airflow celery worker` (one task at a time, no log server) named ``name``, ready once
    Celery says so; its task logs go to ``task_logs``."""
    log = workdir / f"airflow-{name}.log"
    argv = [str(AIRFLOW), "celery", "worker", "--celery-hostname", f"{name}@%h"]
    argv += ["--concurrency", "1", "--skip-serve-logs", "--without-gossip", "--without-mingle"]
    return running_process(
        f"airflow-{name}",
        argv,
        url=name,
        ready_path="",
        log_dir=workdir,
        env={**environment, "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(task_logs)},
        cwd=project,
        timeout=180,
        answers=lambda: log.exists() and " ready." in log.read_text(errors="replace"),
    )
