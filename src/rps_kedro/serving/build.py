"""`python -m rps_kedro.serving.build`: import the registry's champion into the BentoML model
store (`make bento` then runs `bentoml build`).

The registry is the project's MLflow store (conf/<env>/mlflow.yml: MLFLOW_TRACKING_URI, else
the embedded sqlite:///mlflow.db). The alias is resolved to its version first and that version
is imported, with its name, version, alias and run in the BentoML model's metadata (the service
reports them), and the data source of the configured market_source (the service's answers say
"simulated" when the prices come from the simulator). Importing the version that is already the
store's latest is a no-op.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from rps_kedro.config import load_config
from rps_kedro.data_source import configured_data_source
from rps_kedro.serving.settings import find_conf_source, load_settings

logger = logging.getLogger(__name__)


def tracking_uri(conf_source: Path) -> str:
    """The project's MLflow tracking URI, as kedro-mlflow reads it from mlflow.yml."""
    mlflow_conf = load_config("mlflow", conf_source, os.environ.get("KEDRO_ENV"))
    return mlflow_conf["server"]["mlflow_tracking_uri"]


def import_champion(
    registered_name: str,
    alias: str,
    store_name: str,
    data_source: str,
    registry_uri: str | None = None,
) -> Any:
    """The BentoML model holding `models:/<registered_name>@<alias>` (imported if new)."""
    import bentoml  # noqa: PLC0415
    import mlflow  # noqa: PLC0415
    from mlflow.exceptions import MlflowException  # noqa: PLC0415
    from mlflow.tracking import MlflowClient  # noqa: PLC0415

    if registry_uri:
        mlflow.set_tracking_uri(registry_uri)
    try:
        version = MlflowClient().get_model_version_by_alias(registered_name, alias)
    except MlflowException as error:
        raise SystemExit(
            f"no model {registered_name}@{alias} in the registry {mlflow.get_tracking_uri()}:"
            f" run `make run` first ({error.message})"
        ) from None
    metadata = {
        "registered_name": registered_name,
        "version": str(version.version),
        "alias": alias,
        "run_id": version.run_id or "",
        "model_uri": f"models:/{registered_name}/{version.version}",
        "data_source": data_source,
    }
    try:
        latest = bentoml.models.get(f"{store_name}:latest")
    except bentoml.exceptions.NotFound:
        latest = None
    if latest is not None and dict(latest.info.metadata) == metadata:
        logger.info("%s is already the store's latest %s", metadata["model_uri"], latest.tag)
        return latest
    model = bentoml.mlflow.import_model(
        store_name,
        metadata["model_uri"],
        labels={"registered_name": registered_name, "version": metadata["version"], "alias": alias},
        metadata=metadata,
    )
    logger.info("imported %s (%s) as %s", metadata["model_uri"], alias, model.tag)
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alias", help="registry alias to import (default: the settings')")
    parser.add_argument("--tracking-uri", help="MLflow registry (default: the project's)")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    conf_source = find_conf_source()
    settings = load_settings(conf_source).model
    model = import_champion(
        settings.registered_name,
        arguments.alias or settings.alias,
        settings.store_name,
        configured_data_source(conf_source, os.environ.get("KEDRO_ENV")),
        arguments.tracking_uri
        or os.environ.get("MLFLOW_TRACKING_URI")
        or tracking_uri(conf_source),
    )
    print(f"BentoML model {model.tag}: {model.info.metadata['model_uri']}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
