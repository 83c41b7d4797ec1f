"""The registry's current champion (by alias) as a read-only dataset; None when there is none."""

from __future__ import annotations

from typing import Any

import mlflow
from kedro.io import AbstractDataset, DatasetError
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient


class ChampionModelDataset(AbstractDataset[None, "dict[str, Any] | None"]):
    """Loads `models:/<name>@<alias>` as {"version", "run_id", "model"} or None if absent."""

    def __init__(
        self, model_name: str, alias: str = "champion", metadata: dict[str, Any] | None = None
    ):
        self.model_name = model_name
        self.alias = alias
        self.metadata = metadata

    def load(self) -> dict[str, Any] | None:
        """The aliased model version with its pyfunc model, or None on a fresh registry."""
        try:
            version = MlflowClient().get_model_version_by_alias(self.model_name, self.alias)
        except MlflowException:
            return None
        model = mlflow.pyfunc.load_model(f"models:/{self.model_name}@{self.alias}")
        return {"version": int(version.version), "run_id": version.run_id, "model": model}

    def save(self, data: None) -> None:
        """Aliases are moved by the promotion hook, not saved through the catalog."""
        raise DatasetError("ChampionModelDataset is read-only")

    def _describe(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "alias": self.alias}
