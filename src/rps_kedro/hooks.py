"""Project hooks: one log line when a node starts and one when it ends, with its duration; and
the model registry hooks, which give the logged model an input example and the run its data
inputs, then describe the registered version with its model card and move the aliases.

kedro-mlflow logs and registers the inference pipeline after a PipelineML run; these hooks run
just before (input example, datasets) and just after (card, aliases) it, because only then does
the version exist. kedro-mlflow has no dataset for MLflow dataset inputs (kedro-mlflow #446).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import mlflow
import pandas as pd
from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog
from kedro.pipeline import Node, Pipeline
from kedro_mlflow.pipeline.pipeline_ml import PipelineML
from mlflow.data.pandas_dataset import PandasDataset
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, Schema

from rps_kedro.core.model_names import EXPERIMENT_KIND_TAG, REGISTERED_MODEL_NAME

logger = logging.getLogger(__name__)


class NodeTimingHook:
    """`node features.build_features: started`, then `... done in 12.3 s` (or `failed after`).
    Kedro's own per-node lines are dropped (rps_kedro.console.without_kedro_node_lines). The
    hooks run where the node runs (a ParallelRunner worker registers the project's hooks too)."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        """Note the start time and say that the node started."""
        self._started[node.name] = time.perf_counter()
        logger.info("node %s: started", node.name)

    @hook_impl
    def after_node_run(self, node: Node) -> None:
        """Say that the node is done, and how long it took."""
        logger.info("node %s: done in %.1f s", node.name, self._elapsed(node))

    @hook_impl
    def on_node_error(self, node: Node) -> None:
        """Say that the node failed, and after how long (Kedro logs the error itself)."""
        logger.error("node %s: failed after %.1f s", node.name, self._elapsed(node))

    def _elapsed(self, node: Node) -> float:
        """Seconds since the node started."""
        return time.perf_counter() - self._started.pop(node.name)


TRAINING_DATA = {"training": ("train", "tuning"), "testing": ("test",)}
SCHEMA_SAMPLE_ROWS = 1000  # rows the logged datasets' column types are inferred from


def rows_schema(rows: pd.DataFrame) -> Schema:
    """MLflow's schema of the rows: column types inferred from a sample, each column required
    unless one of all the rows lacks it (pandas' vectorised isna: MLflow's own inference
    checks every value in Python, minutes for the million test rows of 1,000 symbols)."""
    missing = rows.isna().any()
    sampled = infer_signature(rows.head(SCHEMA_SAMPLE_ROWS)).inputs
    return Schema(
        [ColSpec(spec.type, spec.name, required=not missing[spec.name]) for spec in sampled.inputs]
    )


def pandas_dataset(rows: pd.DataFrame, name: str, targets: str) -> PandasDataset:
    """`mlflow.data.from_pandas` of the rows, its schema given by rows_schema (preset in the
    instance dict, where the `schema` cached_property keeps its value)."""
    dataset = mlflow.data.from_pandas(rows, name=name, targets=targets)
    dataset.__dict__["schema"] = rows_schema(rows)
    return dataset


class ModelInputExampleHook:
    """Attach recent raw bars as the logged model's input example, and log the model_input
    rows it was trained and tested on as the run's MLflow dataset inputs."""

    @hook_impl(tryfirst=True)
    def after_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        """Runs before kedro-mlflow logs the model and ends the run."""
        if not isinstance(pipeline, PipelineML):
            return
        pipeline.log_model_kwargs["input_example"] = catalog.load(pipeline.input_name)
        windows = []
        for context, names in TRAINING_DATA.items():
            rows = pd.concat([catalog.load(name) for name in names], ignore_index=True)
            dataset = pandas_dataset(rows, f"model_input.{context}", "target_volatility")
            mlflow.log_input(dataset, context=context)
            windows.append(rows["timestamp"])
        mlflow.set_tag("mlflow.runName", run_name(run_params, pd.concat(windows)))
        mlflow.set_experiment_tag(*EXPERIMENT_KIND_TAG)


def run_name(run_params: dict[str, Any], timestamps: pd.Series) -> str:
    """What ran, on which bars: `modelling · bars 2025-01-08 → 2025-05-31 23:00 UTC`."""
    pipelines = run_params.get("pipeline_names") or ["__default__"]
    what = "+".join("default" if name == "__default__" else name for name in pipelines)
    start, end = timestamps.min(), timestamps.max()
    return f"{what} · bars {start:%Y-%m-%d} → {end:%Y-%m-%d %H:%M} UTC"


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
        client.update_model_version(
            REGISTERED_MODEL_NAME, version.version, description=catalog.load("model_card")
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
