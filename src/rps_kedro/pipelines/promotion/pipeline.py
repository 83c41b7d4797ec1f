"""Promotion pipeline: the registry's champion predicts the challenger's test rows, then the
decision (ModelPromotionHook applies it to the registry after the run)."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from rps_kedro.pipelines.promotion.nodes import decide_promotion, predict_with_champion


def create_pipeline(**kwargs) -> Pipeline:
    """The champion's test predictions and the promotion decision."""
    return Pipeline(
        [
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
        ],
        namespace="promotion",  # one collapsible group in Kedro-Viz, one Airflow task
        prefix_datasets_with_namespace=False,
    )
