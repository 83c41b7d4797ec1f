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
from dataclasses import dataclass
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


@dataclass
class RunningAirflow:
    """A started api-server (and scheduler): its URL, an admin token and the DAG runs API."""

    api: ServerProcess
    scheduler: ServerProcess | None

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
            ti.task_id: {
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


@contextlib.contextmanager
def running_airflow(
    project: Path, workdir: Path, *, scheduler: bool = False, timeout: float = 240
) -> Iterator[RunningAirflow]:
    """A migrated metadata DB with the project copy's DAGs serialized, then `airflow api-server`
    and (with ``scheduler``) `airflow scheduler` on loopback, run from the project copy."""
    require_airflow()
    home = workdir / "airflow"
    port = free_port()
    url = f"http://{LOCALHOST}:{port}"
    environment = server_environment(airflow_environment(project, home), home, url)
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
        yield RunningAirflow(api, started)
