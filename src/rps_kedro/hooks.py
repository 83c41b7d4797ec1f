"""Model registry hooks: give the logged model an input example, then move the aliases.

kedro-mlflow logs and registers the inference pipeline after a PipelineML run; these hooks run
just before (input example) and just after (aliases) it, because only then does the version exist.
"""

from __future__ import annotations

import logging
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline
from kedro_mlflow.pipeline.pipeline_ml import PipelineML
from mlflow.tracking import MlflowClient

from rps_kedro.pipelines.modelling.pipeline import REGISTERED_MODEL_NAME

logger = logging.getLogger(__name__)


class ModelInputExampleHook:
    """Attach recent raw bars as the logged model's input example."""

    @hook_impl(tryfirst=True)
    def after_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        """Runs before kedro-mlflow logs the model."""
        if isinstance(pipeline, PipelineML):
            pipeline.log_model_kwargs["input_example"] = catalog.load(pipeline.input_name)


class ModelPromotionHook:
    """Point `challenger` at the run's new version, and `champion` too when the run promoted it
    (unless `modelling.promotion.move_champion` is false, as in the CI model gate)."""

    @hook_impl(trylast=True)
    def after_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        """Runs after kedro-mlflow logged and registered the model and ended the run."""
        if not isinstance(pipeline, PipelineML):
            return
        run = mlflow.last_active_run()
        client = MlflowClient()
        [version] = client.search_model_versions(
            f"name='{REGISTERED_MODEL_NAME}' and run_id='{run.info.run_id}'"
        )
        decision = catalog.load("model_promotion")
        client.set_registered_model_alias(REGISTERED_MODEL_NAME, "challenger", version.version)
        client.set_model_version_tag(
            REGISTERED_MODEL_NAME, version.version, "promotion", decision["reason"]
        )
        move_champion = catalog.load("params:modelling.promotion.move_champion")
        if decision["promote"] and move_champion:
            client.set_registered_model_alias(REGISTERED_MODEL_NAME, "champion", version.version)
        logger.info(
            "%s version %s is challenger%s: %s",
            REGISTERED_MODEL_NAME,
            version.version,
            " and champion" if decision["promote"] and move_champion else "",
            decision["reason"],
        )
