"""Runs with the Airflow environment's python (orchestration/.venv), not the project's.

    python airflow_check.py dagbag              # every DAG in $AIRFLOW__CORE__DAGS_FOLDER imports
    python airflow_check.py test DAG_ID [JSON]  # dag.test() one run, JSON = Kedro runtime params

Prints one JSON line (`RESULT {...}`) for the pytest side to read; exits non-zero on failure.
"""

from __future__ import annotations

import json
import os
import sys


def dagbag() -> dict:
    """Import every file of the DAGs folder the way the DAG processor does."""
    from airflow.dag_processing.dagbag import DagBag  # noqa: PLC0415

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    dags = {
        dag_id: {
            "schedule": str(dag.schedule),
            "tasks": sorted(dag.task_ids),
            "max_active_runs": dag.max_active_runs,
            "catchup": dag.catchup,
            "dagrun_timeout": dag.dagrun_timeout.total_seconds() if dag.dagrun_timeout else None,
            "retries": {task.task_id: task.retries for task in dag.tasks},
            "execution_timeout": {
                task.task_id: task.execution_timeout.total_seconds()
                if task.execution_timeout
                else None
                for task in dag.tasks
            },
            "upstream": {task.task_id: sorted(task.upstream_task_ids) for task in dag.tasks},
        }
        for dag_id, dag in bag.dags.items()
    }
    return {"import_errors": {str(k): v for k, v in bag.import_errors.items()}, "dags": dags}


def test(dag_id: str, kedro_params: dict) -> dict:
    """One DAG run with dag.test(): every task in this process, states kept in the metadata DB."""
    from airflow.dag_processing.dagbag import DagBag  # noqa: PLC0415

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    dag = bag.get_dag(dag_id)
    for task in dag.tasks:
        task.retries = 0  # fail the test at once instead of waiting for retry_delay
    run = dag.test(run_conf={"kedro_params": kedro_params})
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    return {"state": str(run.state), "tasks": states}


def main(argv: list[str]) -> int:
    if argv[0] == "dagbag":
        result = dagbag()
        ok = not result["import_errors"]
    else:
        result = test(argv[1], json.loads(argv[2]) if len(argv) > 2 else {})
        ok = result["state"] == "success"
    print("RESULT " + json.dumps(result, sort_keys=True))  # noqa: T201
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
