"""The registry's current champion (by alias) as a read-only dataset; None when there is none."""

from __future__ import annotations

import logging
from typing import Any

import mlflow
from kedro.io import AbstractDataset, DatasetError
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from rps_kedro.core.model import load_from_mlflow_model
from rps_kedro.core.model_names import REGISTERED_MODEL_NAME

logger = logging.getLogger(__name__)


class ChampionModelDataset(AbstractDataset[None, "dict[str, Any] | None"]):
    """Loads `models:/<name>@<alias>` as {"name", "alias", "version", "run_id", "model"}, or None
    if there is none.

    `model` is the MLflow pyfunc model, or with `bundle: true` the ForecastModel inside it (what
    the service serves: `predict(bars)` and the baselines' forecasts, its lookback).
    """

    def __init__(
        self,
        model_name: str = REGISTERED_MODEL_NAME,
        alias: str = "champion",
        bundle: bool = False,
        metadata: dict[str, Any] | None = None,
    ):
        self.model_name = model_name
        self.alias = alias
        self.bundle = bundle
        self.metadata = metadata

    def load(self) -> dict[str, Any] | None:
        """The aliased model version with its pyfunc model; None on a fresh registry, or when the
        champion was logged by code this one cannot load (it could not be served either, so the
        challenger is judged against the baselines alone and may replace it)."""
        try:
            version = MlflowClient().get_model_version_by_alias(self.model_name, self.alias)
        except MlflowException:
            return None
        uri = f"models:/{self.model_name}@{self.alias}"
        try:
            model = self._load_model(uri)
        except Exception as error:  # noqa: BLE001 - any unpickling failure means the same
            logger.warning(
                "%s (version %s) cannot be loaded by this code (%s: %s); comparing the "
                "challenger with the baselines only",
                uri,
                version.version,
                type(error).__name__,
                error,
            )
            return None
        return {
            "name": self.model_name,
            "alias": self.alias,
            "version": int(version.version),
            "run_id": version.run_id,
            "model": model,
        }

    def _load_model(self, uri: str) -> Any:
        if not self.bundle:
            return mlflow.pyfunc.load_model(uri)
        return load_from_mlflow_model(mlflow.artifacts.download_artifacts(uri))

    def save(self, data: None) -> None:
        """Aliases are moved by the promotion hook, not saved through the catalog."""
        raise DatasetError("ChampionModelDataset is read-only")

    def _describe(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "alias": self.alias, "bundle": self.bundle}
