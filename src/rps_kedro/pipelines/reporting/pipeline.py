"""Reporting pipeline: the model comparison, model card, figures, the gate's latest result and
the metrics that kedro-mlflow logs with the model's run."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from rps_kedro.pipelines.reporting import nodes
from rps_kedro.pipelines.validation.nodes import render_validation_report


def create_pipeline(**kwargs) -> Pipeline:
    """Everything the run reports, from the training and promotion outputs."""
    return Pipeline(
        [
            node(
                nodes.model_comparison_markdown,
                ["model_promotion", "test_report", "selection_report", "backtest_report"],
                "model_comparison_report",
                name="report_model_comparison",
            ),
            node(
                nodes.model_card,
                ["model_promotion", "test_report", "train", "tuning"],
                "model_card",
                name="write_model_card",
            ),
            node(
                nodes.return_figure,
                ["model_promotion", "test_report"],
                "return_comparison_plot",
                name="plot_return_comparison",
            ),
            node(
                nodes.volatility_figure,
                ["model_promotion", "test_report"],
                "volatility_comparison_plot",
                name="plot_volatility_comparison",
            ),
            node(
                nodes.predictions_figure,
                ["test_predictions", "test", "forecaster", "market_source"],
                "test_predictions_plot",
                name="plot_test_predictions",
            ),
            node(
                nodes.residuals_figure,
                ["test_predictions", "test", "forecaster"],
                "residuals_plot",
                name="plot_residuals",
            ),
            node(
                nodes.feature_importance_figure,
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
                nodes.data_checks_summary,
                "validation_result",
                "data_checks_report",
                name="summarise_data_checks",
            ),
            node(
                nodes.headline_metrics,
                "model_promotion",
                "headline_metrics",
                name="summarise_headline_metrics",
            ),
            node(
                nodes.mlflow_metrics,
                ["test_report", "backtest_report", "model_promotion"],
                "modelling_metrics",
                name="collect_mlflow_metrics",
            ),
        ],
        namespace="reporting",  # one collapsible group in Kedro-Viz, one Airflow task
        prefix_datasets_with_namespace=False,
        tags=["reporting"],  # Kedro-Viz's tag filter hides or shows them at once
    )
