"""rps-kedro: Real-time Predictive System for hourly market bars.

Importing the package declines the usage analytics of the tools it runs, in every entry point
(`kedro run`, `dvc repro`, Airflow tasks, `bentoml serve`, notebooks), unless the environment
already says otherwise; Kedro's own consent is the committed `.telemetry` file.
"""

import os

__version__ = "0.1.0"

TELEMETRY_OPT_OUT = {
    "GX_ANALYTICS_ENABLED": "false",  # Great Expectations
    "BENTOML_DO_NOT_TRACK": "true",  # BentoML
    "MLFLOW_DISABLE_TELEMETRY": "true",  # MLflow (it reads DO_NOT_TRACK only when "true")
    "KEDRO_DISABLE_TELEMETRY": "true",  # Kedro, where no project's .telemetry is found
}
for variable, value in TELEMETRY_OPT_OUT.items():
    os.environ.setdefault(variable, value)
