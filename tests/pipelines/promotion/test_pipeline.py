"""The promotion pipeline after training, one run on an in-memory catalog: the first model is promoted."""

from kedro.runner import SequentialRunner

from rps_kedro.pipelines import promotion, training


def test_the_first_model_of_a_fresh_registry_is_promoted(modelling_catalog):
    pipeline = training.create_pipeline() + promotion.create_pipeline()
    SequentialRunner().run(pipeline, modelling_catalog)

    decision = modelling_catalog["model_promotion"].load()
    assert decision["promote"], decision["reason"]
    assert decision["champion_version"] is None
