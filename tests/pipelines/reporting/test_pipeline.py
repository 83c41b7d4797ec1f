"""The reporting pipeline after training and promotion, one run on an in-memory catalog."""

from kedro.pipeline import Pipeline
from kedro.runner import SequentialRunner

from rps_kedro.pipelines import promotion, reporting, training


def test_reporting_writes_the_card_the_figures_and_the_metrics(modelling_catalog):
    stages = (training, promotion, reporting)
    SequentialRunner().run(
        sum((s.create_pipeline() for s in stages), Pipeline([])), modelling_catalog
    )

    assert "model card" in modelling_catalog["model_card"].load()
    assert modelling_catalog["data_checks_report"].load()["success"]
    metrics = {
        name: logged["value"]
        for name, logged in modelling_catalog["modelling_metrics"].load().items()
    }
    qlike = {m: metrics[f"test.{m}.volatility.qlike"] for m in ("served", "har")}
    assert metrics["test.served.volatility.skill_vs_har"] == 1 - qlike["served"] / qlike["har"]
    assert "test.served.return.skill_vs_persistence" in metrics
    headline = modelling_catalog["headline_metrics"].load()  # DVC's metrics: a few numbers
    assert set(headline) == {"return", "volatility", "promoted"}
    assert headline["volatility"]["skill_vs_har"] == metrics["test.served.volatility.skill_vs_har"]
    assert headline["return"]["served_rmse"] == metrics["test.served.return.rmse"]
    assert sum(len(values) for values in headline.values() if isinstance(values, dict)) == 6
    assert modelling_catalog["residuals_plot"].load().axes
    [prices, _] = modelling_catalog["test_predictions_plot"].load().axes  # close, volatility
    assert prices.get_title().startswith("SIMULATED data · ")
    assert "PASSED" in modelling_catalog["validation_page"].load()
