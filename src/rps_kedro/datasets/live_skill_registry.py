"""Live skill next to test skill in the MLflow registry: a write-only dataset that, for each model
version scored, logs the live metrics to the version's run in the experiment `rps_kedro_live`
(one run per version, found by its tags and reused by every hourly scoring: each metric's
history is the live skill hour by hour, stepped by the scoring hour) and sets the 7-day skill as
tags of that model version, which the registry's version page shows beside the training run's
test-window metrics; the week's plots are the run's artifacts, replaced at each scoring. A
version missing from the registry (deleted since it served) gets its run and a warning, not tags.

It uses MlflowClient, not `mlflow.start_run`: kedro-mlflow may have a run open for the pipeline.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from kedro.io import AbstractDataset, DatasetError
from mlflow.entities import Metric, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from rps_kedro.core.figures import close
from rps_kedro.core.model_names import EXPERIMENT_KIND_TAG, REGISTERED_MODEL_NAME

logger = logging.getLogger(__name__)


class LiveSkillRegistryDataset(AbstractDataset[dict[str, Any], None]):
    """Saves {version: {"as_of", "metrics": {name: value}, "tags": {name: text}, "figures":
    {artifact path: matplotlib Figure}}} to MLflow."""

    def __init__(
        self,
        experiment: str = "rps_kedro_live",
        model_name: str = REGISTERED_MODEL_NAME,
        metadata: dict[str, Any] | None = None,
    ):
        self.experiment = experiment
        self.model_name = model_name
        self.metadata = metadata

    def _experiment_id(self, client: MlflowClient) -> str:
        found = client.get_experiment_by_name(self.experiment)
        if found:
            return found.experiment_id
        return client.create_experiment(self.experiment, tags=dict([EXPERIMENT_KIND_TAG]))

    def _version_run(self, client: MlflowClient, experiment_id: str, version: str) -> str:
        """The id of the version's live run: the one tagged with it, else a new one."""
        found = client.search_runs(
            [experiment_id],
            filter_string=(
                f"tags.registered_model = '{self.model_name}' and tags.model_version = '{version}'"
            ),
            max_results=1,
        )
        if found:
            return found[0].info.run_id
        tags = {"registered_model": self.model_name, "model_version": version}
        return client.create_run(experiment_id, run_name=f"live v{version}", tags=tags).info.run_id

    def save(self, data: dict[str, Any]) -> None:
        """Each version's live metrics appended to its run's history; its tags updated."""
        client = MlflowClient()
        experiment_id = self._experiment_id(client) if data else None
        for version, scores in data.items():
            run_id = self._version_run(client, experiment_id, str(version))
            as_of = datetime.fromisoformat(scores["as_of"])
            stamp_ms, step = int(as_of.timestamp() * 1000), int(as_of.timestamp() // 3600)
            metrics = [Metric(k, float(v), stamp_ms, step) for k, v in scores["metrics"].items()]
            client.log_batch(run_id, metrics=metrics, tags=[RunTag("live_as_of", scores["as_of"])])
            for path, figure in scores.get("figures", {}).items():
                client.log_figure(run_id, figure, path)
                close(figure)
            client.set_terminated(run_id)
            try:
                for name, text in {**scores["tags"], "live_run_id": run_id}.items():
                    client.set_model_version_tag(self.model_name, str(version), name, text)
            except MlflowException as error:  # a version deleted since it served
                logger.warning(
                    "No registry tags for %s version %s: %s", self.model_name, version, error
                )

    def load(self) -> dict[str, Any]:
        raise DatasetError("LiveSkillRegistryDataset is write-only: read the registry")

    def _describe(self) -> dict[str, Any]:
        return {"experiment": self.experiment, "model_name": self.model_name}


class ModelTestSkillDataset(AbstractDataset[None, dict[str, dict[str, float]]]):
    """Loads {version: {target: test-window skill}} of every version of the registered model,
    read from the metrics of the run that registered it (`metrics` names the metric of each
    target); a version without its run or metric is left out."""

    def __init__(
        self,
        metrics: dict[str, str],
        model_name: str = REGISTERED_MODEL_NAME,
        metadata: dict[str, Any] | None = None,
    ):
        self.metrics = metrics
        self.model_name = model_name
        self.metadata = metadata

    def load(self) -> dict[str, dict[str, float]]:
        """Each registered version's test skill per target."""
        client = MlflowClient()
        skills: dict[str, dict[str, float]] = {}
        for version in client.search_model_versions(f"name = '{self.model_name}'"):
            try:
                logged = client.get_run(version.run_id).data.metrics if version.run_id else {}
            except MlflowException:  # the run was deleted
                logged = {}
            values = {t: logged[name] for t, name in self.metrics.items() if name in logged}
            if values:
                skills[str(version.version)] = values
        return skills

    def save(self, data: None) -> None:
        raise DatasetError("ModelTestSkillDataset is read-only: training logs the test metrics")

    def _describe(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "metrics": self.metrics}
