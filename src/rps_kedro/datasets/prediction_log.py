"""The prediction log as a Kedro dataset: a PartitionedDataset of JSON-lines files (the
service's hourly files and the scheduled forecasts' partitions) that loads {} while empty."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kedro_datasets.partitions import PartitionedDataset


class PredictionLogDataset(PartitionedDataset):
    """PartitionedDataset that is empty, not an error, before the first forecast is logged."""

    def load(self) -> dict[str, Callable[[], Any]]:
        """Each partition's lazy loader by partition id; {} when nothing was logged yet."""
        if not self._list_partitions():
            return {}
        return super().load()
