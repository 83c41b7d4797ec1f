"""Following the registry's alias: poll `models:/<name>@<alias>` and hand each new version,
loaded and warmed up, to the service, which swaps it in.

`RegistryFollower.poll()` is one look at the registry (the service's follower thread calls it
every `poll_seconds`):

- `unchanged`: the alias points at the served version (or at one that already failed);
- `swapped`: a new version was downloaded to a temporary folder, loaded, predicted its example
  bars, and was handed to `swap`;
- `load_failed`: the new version could not be loaded or warmed up: logged with its reason, not
  retried until the alias moves again; the served version keeps serving;
- `registry_error`: the registry did not answer; the next poll tries again.

MLflow is imported in the follower's thread, never on the request path.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

from rps_kedro.serving.inference import UNKNOWN_DATA_SOURCE, ModelInfo, Predictor

logger = logging.getLogger("rps_kedro.serving")

Loader = Callable[[Path, ModelInfo], Predictor]


class RegistryFollower:
    """Polls one registered model's alias for the service that serves `served_version`."""

    def __init__(
        self,
        name: str,
        alias: str,
        tracking_uri: str,
        load: Loader,
        swap: Callable[[Predictor], None],
        served_version: str,
        data_source: str = UNKNOWN_DATA_SOURCE,
    ):
        self.name = name
        self.alias = alias
        self.tracking_uri = tracking_uri
        self.load = load
        self.swap = swap
        self.served_version = served_version
        self.data_source = data_source  # the deployment's: every version it follows shares it
        self.failed_versions: set[str] = set()

    def poll(self) -> str:
        """One look at the registry; the outcome (see the module docstring)."""
        try:
            import mlflow  # noqa: PLC0415 (the follower thread's, not the request path's)
            from mlflow.tracking import MlflowClient  # noqa: PLC0415

            client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
            version = client.get_model_version_by_alias(self.name, self.alias)
        except Exception as error:  # noqa: BLE001 (any registry failure: try again next poll)
            logger.warning("registry %s unavailable: %s", self.tracking_uri, error)
            return "registry_error"
        number = str(version.version)
        if number == self.served_version or number in self.failed_versions:
            return "unchanged"
        info = ModelInfo(self.name, number, self.alias, version.run_id or "", self.data_source)
        try:
            with tempfile.TemporaryDirectory(prefix="rps-model-") as folder:
                model_dir = mlflow.artifacts.download_artifacts(
                    client.get_model_version_download_uri(self.name, number),
                    dst_path=folder,
                    tracking_uri=self.tracking_uri,
                )
                predictor = self.load(Path(model_dir), info)
        except Exception as error:  # noqa: BLE001 (a bad version must not stop the service)
            self.failed_versions.add(number)
            logger.error(
                "%s@%s moved to version %s, which could not be loaded (%s: %s); version %s"
                " keeps serving",
                self.name,
                self.alias,
                number,
                type(error).__name__,
                error,
                self.served_version,
            )
            return "load_failed"
        self.swap(predictor)
        logger.info(
            "%s@%s: version %s replaces version %s",
            self.name,
            self.alias,
            number,
            self.served_version,
        )
        self.served_version = number
        return "swapped"
