"""orchestration/pod_template.yaml, the KubernetesExecutor's example pod template
(docs/scaling.md), checked statically: there is no cluster here. Airflow requires a pod name and
a first container named `base` with an image; the task pods share the data, reach the api-server
and take the secrets from Kubernetes Secrets, never from the file."""

from __future__ import annotations

import yaml

from tests.conftest import PROJECT_ROOT

POD_TEMPLATE = PROJECT_ROOT / "orchestration/pod_template.yaml"
COMPOSE_FILE = PROJECT_ROOT / "monitoring/docker-compose.yml"


def test_the_pod_template_has_what_airflow_requires():
    pod = yaml.safe_load(POD_TEMPLATE.read_text())
    assert (pod["apiVersion"], pod["kind"]) == ("v1", "Pod")
    assert pod["metadata"]["name"]
    assert pod["spec"]["restartPolicy"] == "Never"
    base = pod["spec"]["containers"][0]
    assert base["name"] == "base"
    assert base["image"].endswith("/rps-kedro-airflow:latest")  # orchestration/Dockerfile's


def test_task_pods_share_the_data_and_use_the_compose_settings():
    pod = yaml.safe_load(POD_TEMPLATE.read_text())
    base = pod["spec"]["containers"][0]
    environment = {variable["name"]: variable for variable in base["env"]}
    compose = yaml.safe_load(COMPOSE_FILE.read_text())["x-airflow-common"]["environment"]
    for name in ("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "MLFLOW_TRACKING_URI"):
        assert environment[name]["value"] == compose[name], name
    for secret in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__API_AUTH__JWT_SECRET"):
        assert "value" not in environment[secret], secret
        assert environment[secret]["valueFrom"]["secretKeyRef"]["name"], secret
    mounts = {mount["mountPath"]: mount["name"] for mount in base["volumeMounts"]}
    claims = {
        volume["name"]: volume["persistentVolumeClaim"]["claimName"]
        for volume in pod["spec"]["volumes"]
        if "persistentVolumeClaim" in volume
    }
    assert {mounts["/project/data"], mounts["/project/mlruns"]} <= set(claims)
