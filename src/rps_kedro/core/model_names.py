"""The model's names, in a module of their own so that reading them loads no model code."""

REGISTERED_MODEL_NAME = "rps_kedro"  # the MLflow registered model (and BentoML store) name
MODEL_ARTIFACT = "forecast_model"  # the catalog entry, and so the MLflow model's artifact
# MLflow's UI opens an experiment with this tag on its training runs, not on the GenAI view.
EXPERIMENT_KIND_TAG = ("mlflow.experimentKind", "custom_model_development")
