"""The model's names, in a module of their own so that reading them loads no model code."""

REGISTERED_MODEL_NAME = "rps_kedro"  # the MLflow registered model (and BentoML store) name
MODEL_ARTIFACT = "forecast_model"  # the catalog entry, and so the MLflow model's artifact
