"""The one way this project reads conf/: Kedro's OmegaConfigLoader with the project's settings
(`kedro run`, the service, `make bento` and the tests all resolve a key the same way)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf.resolvers import oc

BASE_ENV = "base"
DEFAULT_RUN_ENV = "local"
CONFIG_LOADER_ARGS: dict[str, Any] = {
    "base_env": BASE_ENV,
    "default_run_env": DEFAULT_RUN_ENV,
    # conf/<env>/*.yml override single keys instead of whole top-level blocks.
    "merge_strategy": {"parameters": "soft", "serving": "soft", "retraining": "soft"},
    # The service's settings (never pipeline parameters) and kedro-mlflow's mlflow.yml.
    "config_patterns": {
        "serving": ["serving*", "serving*/**"],
        "mlflow": ["mlflow*", "mlflow*/**"],
        "retraining": ["retraining*", "retraining*/**"],
    },
    # mlflow.yml reads MLFLOW_TRACKING_URI so a real tracking server is one variable away.
    "custom_resolvers": {"oc.env": oc.env},
}


def load_config(
    key: str,
    conf_source: Path,
    env: str | None = None,
    runtime_params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """conf/base's `key` merged with conf/<env>'s (base alone when that folder does not exist)."""
    from kedro.config import OmegaConfigLoader  # noqa: PLC0415 (kept off the service's import path)

    env = env or DEFAULT_RUN_ENV
    if not (Path(conf_source) / env).is_dir():
        env = BASE_ENV
    loader = OmegaConfigLoader(
        conf_source=str(conf_source),
        env=env,
        runtime_params=runtime_params or {},
        **{**CONFIG_LOADER_ARGS, "default_run_env": env},
    )
    return loader[key]
