"""The data-refresh DAG on the CeleryExecutor, as on several machines: a Redis broker and a
PostgreSQL metadata DB (Debian packages) on loopback, the api-server, the scheduler and two
`airflow celery worker`s. One DAG run's shard tasks run on both workers and publish the same
forecasts as the refresh run in one process."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from benchmarks.bench_freshness import (
    DAG_ID,
    LATEST_FORECASTS,
    hour_after_training,
    prepared_project,
)
from rps_kedro.datasets import LatestForecastsDataset
from tests.conftest import PROJECT_ROOT, kedro_run
from tests.support.airflow import CeleryBackends, running_airflow
from tests.support.databases import running_postgres, running_redis

SYMBOLS = ["AAPL", "MSFT", "BTC-USD", "ETH-USD"]  # two in each of two shards (rps_kedro.sharding)
SHARDS = yaml.safe_load((PROJECT_ROOT / "conf/base/airflow.yml").read_text())["data_refresh"][
    "shards"
]
RUN_TIMEOUT_SECONDS = 600
WHEN_MADE = ("served_at", "request_id")


def published(project: Path) -> dict[str, dict]:
    """Symbol -> its latest forecast, without when it was made (the rest must be equal)."""
    forecasts = LatestForecastsDataset(str(project / LATEST_FORECASTS)).load()
    return {
        symbol: {key: value for key, value in forecast.items() if key not in WHEN_MADE}
        for symbol, forecast in forecasts.items()
    }


@pytest.mark.integration
def test_shard_tasks_run_on_both_celery_workers_with_the_single_process_forecasts(
    tmp_path: Path,
) -> None:
    project = prepared_project(tmp_path, SYMBOLS)
    reference = tmp_path / "reference"
    shutil.copytree(project, reference, symlinks=True)
    end = hour_after_training(2)
    single = kedro_run(reference, "--pipelines", "data_refresh", "--params", f"simulator_end={end}")
    assert single.returncode == 0, single.stderr[-3000:]

    with (
        running_redis(tmp_path) as broker,
        running_postgres(tmp_path) as database,
        running_airflow(
            project, tmp_path, scheduler=True, celery=CeleryBackends(broker, database)
        ) as airflow,
    ):
        run_id = airflow.trigger(DAG_ID, {"kedro_params": {"simulator_end": end}})
        run = airflow.wait_until_finished(DAG_ID, run_id, RUN_TIMEOUT_SECONDS)
        tasks = airflow.task_durations(DAG_ID, run_id)
        ran_by = airflow.tasks_run_by(DAG_ID, run_id)
        assert run.state.value == "success", f"{tasks}\n{airflow.logs()}"

    shard_tasks = {name for name in tasks if "[" in name}  # task_id[map_index]
    assert len(shard_tasks) == SHARDS["count"] * len(SHARDS["tasks"]), tasks
    assert {task["state"] for task in tasks.values()} == {"success"}, tasks
    by_worker = {worker: names & shard_tasks for worker, names in ran_by.items()}
    assert all(by_worker.values()), f"the shard tasks ran on one worker only: {ran_by}"
    assert set().union(*by_worker.values()) == shard_tasks
    assert published(project) == published(reference)
