"""Training pipeline: model_input -> splits -> backtest, selection, test -> the model bundle,
logged by kedro-mlflow as the inference pipeline: one node calling the bundle's `predict` (raw
bars in, next-hour predictions out)."""

from __future__ import annotations

from importlib.metadata import version

from kedro.pipeline import Pipeline, node
from kedro_mlflow.pipeline import pipeline_ml_factory
from kedro_mlflow.pipeline.pipeline_ml import PipelineML

from rps_kedro.core.model_names import MODEL_ARTIFACT, REGISTERED_MODEL_NAME
from rps_kedro.pipelines.training.nodes import (
    build_drift_reference,
    bundle_model,
    evaluate_on_test,
    guard_against_baselines,
    predict_with_model,
    select_and_fit,
    select_inference_example,
    split_by_time,
    walk_forward_backtest,
)
from rps_kedro.requirements import PROJECT, pinned

INFERENCE_INPUT = "inference_bars"


def create_pipeline(**kwargs) -> Pipeline:
    """Everything that learns and evaluates; its artifacts feed the inference pipeline."""
    return Pipeline(
        [
            node(
                split_by_time,
                ["model_input", "params:modelling.split"],
                ["train", "tuning", "test"],
                name="split_by_time",
            ),
            node(
                walk_forward_backtest,
                ["train", "params:modelling", "params:features"],
                "backtest_report",
                name="walk_forward_backtest",
            ),
            node(
                select_and_fit,
                ["train", "tuning", "backtest_report", "params:modelling", "params:features"],
                ["selected_forecaster", "selection_report"],
                name="select_and_fit",
            ),
            node(
                evaluate_on_test,
                ["selected_forecaster", "test", "params:modelling"],
                ["test_predictions", "test_report"],
                name="evaluate_on_test",
            ),
            node(
                guard_against_baselines,
                ["selected_forecaster", "test_report", "params:modelling"],
                "forecaster",
                name="guard_against_baselines",
            ),
            node(
                build_drift_reference,
                ["train", "tuning", "params:modelling", "params:features"],
                "drift_reference",
                name="build_drift_reference",
            ),
            node(
                select_inference_example,
                ["primary_bars", "params:features", "params:modelling.inference"],
                INFERENCE_INPUT,
                name="select_inference_example",
            ),
            node(
                bundle_model,
                ["forecaster", "drift_reference", INFERENCE_INPUT, "params:features"],
                MODEL_ARTIFACT,
                name="bundle_model",
            ),
        ],
        namespace="training",  # one collapsible group in Kedro-Viz, one Airflow task
        prefix_datasets_with_namespace=False,
    )


def create_inference_pipeline() -> Pipeline:
    """Raw bars (naive timestamps are UTC) -> the model bundle's predictions (with drift)."""
    return Pipeline(
        [
            node(
                predict_with_model,
                [MODEL_ARTIFACT, INFERENCE_INPUT],
                "predictions",
                name="predict_with_model",
            )
        ]
    )


def as_model_pipeline(training: Pipeline) -> PipelineML:
    """Wrap a training pipeline so kedro-mlflow logs and registers the inference pipeline."""
    return pipeline_ml_factory(
        training=training,
        inference=create_inference_pipeline(),
        input_name=INFERENCE_INPUT,
        log_model_kwargs={
            "name": "model",
            "registered_model_name": REGISTERED_MODEL_NAME,
            "signature": "auto",
            "pip_requirements": [*pinned("model"), f"{PROJECT}=={version(PROJECT)}"],
        },
    )
