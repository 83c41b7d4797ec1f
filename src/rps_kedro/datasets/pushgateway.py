"""Batch results to Prometheus the conventional way: a write-only dataset that pushes metric
samples to a Pushgateway (prometheus_client.push_to_gateway, HTTP PUT: the job's previous
samples are replaced, so a symbol or model version that is gone stops being reported).

Saved data is one row per sample: `metric`, one column per label, `value`. Each metric needs a
help text (`metrics:` in the catalog); NaN samples (an undefined metric) are left out. The push
also sets `<job>_last_push_timestamp_seconds`, which alerts use to tell a silent batch job from a
healthy one. An unreachable Pushgateway is logged as a warning and does not fail the run: the
results are saved to files as well.
"""

from __future__ import annotations

import logging
import math
from typing import Any
from urllib.error import URLError

import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

logger = logging.getLogger(__name__)


class PushgatewayDataset(AbstractDataset[pd.DataFrame, None]):
    """Pushes a frame of samples (metric, label columns, value) as gauges of one job."""

    def __init__(
        self,
        url: str,
        job: str,
        metrics: dict[str, str],
        labels: list[str],
        timeout: float = 10.0,
        metadata: dict[str, Any] | None = None,
    ):
        self.url = url
        self.job = job
        self.metrics = metrics
        self.labels = labels
        self.timeout = timeout
        self.metadata = metadata

    def registry(self, samples: pd.DataFrame) -> CollectorRegistry:
        """The samples as gauges in a registry of their own, with the push time."""
        unknown = sorted(set(samples["metric"]) - set(self.metrics)) if len(samples) else []
        if unknown:
            raise DatasetError(f"no help text for metrics {unknown}: add them to `metrics:`")
        registry = CollectorRegistry()
        gauges = {
            name: Gauge(name, help_text, self.labels, registry=registry)
            for name, help_text in self.metrics.items()
        }
        for row in samples.itertuples(index=False):
            value = float(row.value)
            if not math.isnan(value):
                gauges[row.metric].labels(*(str(getattr(row, label)) for label in self.labels)).set(
                    value
                )
        Gauge(
            f"{self.job}_last_push_timestamp_seconds",
            f"When {self.job} last pushed its results (Unix time)",
            registry=registry,
        ).set_to_current_time()
        return registry

    def save(self, data: pd.DataFrame) -> None:
        """Replace the job's samples on the Pushgateway."""
        try:
            push_to_gateway(
                self.url, job=self.job, registry=self.registry(data), timeout=self.timeout
            )
        except (URLError, OSError) as error:
            logger.warning(
                "Pushgateway %s unreachable, %s not pushed: %s", self.url, self.job, error
            )

    def load(self) -> pd.DataFrame:
        raise DatasetError("PushgatewayDataset is write-only: query Prometheus for the samples")

    def _describe(self) -> dict[str, Any]:
        return {"url": self.url, "job": self.job, "labels": self.labels}
