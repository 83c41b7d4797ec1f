"""The live scoring pipeline on an in-memory catalog: log + bars (+ the versions' test skill) ->
scored forecasts, metrics, and the samples the Pushgateway dataset pushes."""

from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from rps_kedro.pipelines.live_scoring import create_pipeline


def test_the_pipeline_scores_the_log_and_makes_prometheus_samples(logged, bars, params):
    catalog = DataCatalog()
    catalog["prediction_log"] = logged
    catalog["recent_primary_bars"] = bars
    catalog["params:live_scoring"] = params
    catalog["model_test_skill"] = {"3": {"return": 0.01, "volatility": 0.2}}
    SequentialRunner().run(create_pipeline(), catalog)
    pushed = catalog["live_metrics_pushgateway"].load()
    assert pushed.query("metric == 'rps_model_test_skill'")["value"].tolist() == [0.01, 0.2]
    samples = catalog["live_metrics_pushgateway"].load().query("window == '7d'")
    by_metric = samples.groupby("metric")["value"]
    assert by_metric.sum()["rps_live_scored_forecasts"] == 3
    assert by_metric.max()["rps_live_unscored_share"] == 0.5  # BTC-USD: one of two due is missing
