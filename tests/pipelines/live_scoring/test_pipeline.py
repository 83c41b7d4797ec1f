"""The live scoring pipeline on an in-memory catalog: log + bars -> scored forecasts, metrics."""

from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from rps_kedro.pipelines.live_scoring import create_pipeline


def test_the_pipeline_scores_the_log_and_writes_metrics(logged, bars, params):
    catalog = DataCatalog()
    catalog["prediction_log"] = logged
    catalog["primary_bars"] = bars
    catalog["params:live_scoring"] = params
    SequentialRunner().run(create_pipeline(), catalog)
    weekly = catalog["live_metrics"].load().query("window == '7d'")
    assert weekly[["scored", "missing", "pending"]].sum().to_dict() == {
        "scored": 3,
        "missing": 1,
        "pending": 1,
    }
