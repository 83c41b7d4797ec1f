"""The training pipeline run by Kedro's runner on an in-memory catalog, and the logged model's
inference pipeline: the bundle and the bars, nothing else (no gate parameters)."""

from kedro.runner import SequentialRunner

from rps_kedro.core.model import ForecastModel
from rps_kedro.core.model_names import MODEL_ARTIFACT
from rps_kedro.pipelines.training import create_pipeline
from rps_kedro.pipelines.training.pipeline import INFERENCE_INPUT, create_inference_pipeline


def test_training_bundles_a_model_that_predicts_every_symbol(modelling_catalog, simulated_bars):
    SequentialRunner().run(create_pipeline(), modelling_catalog)

    model = modelling_catalog[MODEL_ARTIFACT].load()
    inputs = {MODEL_ARTIFACT: model, INFERENCE_INPUT: simulated_bars}
    predictions = create_inference_pipeline().nodes[0].run(inputs)["predictions"]
    assert isinstance(model, ForecastModel)
    assert set(predictions["symbol"]) == set(simulated_bars["symbol"])


def test_the_inference_pipeline_reads_only_the_bundle_and_the_bars():
    assert create_inference_pipeline().inputs() == {MODEL_ARTIFACT, INFERENCE_INPUT}
