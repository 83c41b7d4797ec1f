"""Modelling pipeline: model_input -> splits -> backtest, selection, test -> the model bundle and
champion comparison, logged by kedro-mlflow as the inference pipeline: one node calling the
bundle's `predict` (raw bars in, next-hour predictions out)."""

from __future__ import annotations

from importlib.metadata import version

from kedro.pipeline import Pipeline, node
from kedro_mlflow.pipeline import pipeline_ml_factory
from kedro_mlflow.pipeline.pipeline_ml import PipelineML

from rps_kedro.core.model import MODEL_ARTIFACT, REGISTERED_MODEL_NAME
from rps_kedro.pipelines.modelling import reporting
from rps_kedro.pipelines.modelling.nodes import (
    build_drift_reference,
    bundle_model,
    decide_promotion,
    evaluate_on_test,
    guard_against_baselines,
    predict_with_champion,
    predict_with_model,
    select_and_fit,
    select_inference_example,
    split_by_time,
    walk_forward_backtest,
)
from rps_kedro.pipelines.validation.nodes import render_validation_report
from rps_kedro.requirements import PROJECT, pinned

INFERENCE_INPUT = "inference_bars"


def create_training_pipeline() -> Pipeline:
    """Everything that learns, evaluates and reports; its artifacts feed the inference pipeline."""
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
            node(
                predict_with_champion,
                ["champion_model", "primary_bars", "test", "params:modelling"],
                "champion_predictions",
                name="predict_with_champion",
            ),
            node(
                decide_promotion,
                [
                    "test",
                    "test_predictions",
                    "champion_predictions",
                    "champion_model",
                    "forecaster",
                    "params:modelling",
                ],
                "model_promotion",
                name="decide_promotion",
            ),
            node(
                reporting.model_comparison_markdown,
                ["model_promotion", "test_report", "selection_report", "backtest_report"],
                "model_comparison_report",
                name="report_model_comparison",
            ),
            node(
                reporting.model_card,
                ["model_promotion", "test_report", "train", "tuning"],
                "model_card",
                name="write_model_card",
            ),
            node(
                reporting.return_figure,
                ["model_promotion", "test_report"],
                "return_comparison_plot",
                name="plot_return_comparison",
            ),
            node(
                reporting.volatility_figure,
                ["model_promotion", "test_report"],
                "volatility_comparison_plot",
                name="plot_volatility_comparison",
            ),
            node(
                reporting.predictions_figure,
                ["test_predictions", "test", "forecaster"],
                "test_predictions_plot",
                name="plot_test_predictions",
            ),
            node(
                reporting.residuals_figure,
                ["test_predictions", "test", "forecaster"],
                "residuals_plot",
                name="plot_residuals",
            ),
            node(
                reporting.feature_importance_figure,
                ["forecaster", "test", "params:modelling.importance"],
                "feature_importance_plot",
                name="plot_feature_importance",
            ),
            node(
                render_validation_report,
                "validation_result",
                "validation_page",
                name="render_validation_page",
            ),
            node(
                reporting.data_checks_summary,
                "validation_result",
                "data_checks_report",
                name="summarise_data_checks",
            ),
            node(
                reporting.mlflow_metrics,
                ["test_report", "backtest_report", "model_promotion"],
                "modelling_metrics",
                name="collect_mlflow_metrics",
            ),
        ]
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


def create_pipeline(**kwargs) -> PipelineML:
    """The modelling stage alone (it reads the primary bars and model_input from the catalog)."""
    return as_model_pipeline(create_training_pipeline())
