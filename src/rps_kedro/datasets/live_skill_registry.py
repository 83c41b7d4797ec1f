"""Live skill next to test skill in the MLflow registry: a write-only dataset that, for each model
version scored, logs the live metrics to a run of their own (experiment `rps_kedro_live`, tagged
with the registered model and version) and sets them as tags of that model version, which the
registry's version page shows beside the training run's test-window metrics; the week's plots
are the run's artifacts. A version missing
from the registry (deleted since it served) gets its run and a warning, not tags.

It uses MlflowClient, not `mlflow.start_run`: kedro-mlflow may have a run open for the pipeline.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import matplotlib.pyplot as plt
from kedro.io import AbstractDataset, DatasetError
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from rps_kedro.core.model_names import REGISTERED_MODEL_NAME

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
        return found.experiment_id if found else client.create_experiment(self.experiment)

    def save(self, data: dict[str, Any]) -> None:
        """One run per model version with its live metrics; the version's tags updated."""
        client = MlflowClient()
        experiment_id = self._experiment_id(client) if data else None
        now_ms = int(time.time() * 1000)
        for version, scores in data.items():
            run = client.create_run(
                experiment_id,
                run_name=f"live v{version} {scores['as_of']}",
                tags={"registered_model": self.model_name, "model_version": str(version)},
            )
            metrics = [Metric(k, float(v), now_ms, 0) for k, v in scores["metrics"].items()]
            client.log_batch(run.info.run_id, metrics=metrics)
            for path, figure in scores.get("figures", {}).items():
                client.log_figure(run.info.run_id, figure, path)
                plt.close(figure)
            client.set_terminated(run.info.run_id)
            try:
                for name, text in {**scores["tags"], "live_run_id": run.info.run_id}.items():
                    client.set_model_version_tag(self.model_name, str(version), name, text)
            except MlflowException as error:  # a version deleted since it served
                logger.warning(
                    "No registry tags for %s version %s: %s", self.model_name, version, error
                )

    def load(self) -> dict[str, Any]:
        raise DatasetError("LiveSkillRegistryDataset is write-only: read the registry")

    def _describe(self) -> dict[str, Any]:
        return {"experiment": self.experiment, "model_name": self.model_name}
