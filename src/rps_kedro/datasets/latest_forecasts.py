"""The newest scheduled forecast of each symbol, one JSON file per symbol
(`<path>/<symbol>.json`, the name as core.symbol_names makes it): what
GET /forecast/{symbol} answers (serving/forecasts.py).

A save writes the files of the symbols it holds, each atomically and only when its forecast
changed, and leaves the others alone: shards of the symbols never write the same file, and a
symbol no longer forecast keeps its last forecast (its `served_at` tells its age). A load reads
them all.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset

from rps_kedro.core.symbol_names import symbol_file_name
from rps_kedro.datasets.partitioned_parquet import remove_orphans, replace_atomically

SUFFIX = ".json"


def _write_text(text: str, path: str) -> None:
    Path(path).write_text(text)


class LatestForecastsDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """Forecast records by symbol, one JSON file each (module doc)."""

    def __init__(self, path: str, metadata: dict[str, Any] | None = None):
        self.path = Path(path)
        self.metadata = metadata

    def load(self) -> dict[str, Any]:
        """Every published forecast by symbol ({} before the first)."""
        remove_orphans(self.path)
        records = (json.loads(path.read_text()) for path in self._files())
        return {record["symbol"]: record for record in records}

    def save(self, data: dict[str, Any]) -> None:
        """Write each symbol's forecast whose file it would change."""
        remove_orphans(self.path)
        for symbol, record in data.items():
            target = self.path / f"{symbol_file_name(symbol)}{SUFFIX}"
            text = json.dumps(record, indent=1) + "\n"
            if not (target.exists() and target.read_text() == text):
                replace_atomically(target, partial(_write_text, text))

    def _files(self) -> list[Path]:
        return sorted(self.path.glob(f"[!.]*{SUFFIX}")) if self.path.is_dir() else []

    def _exists(self) -> bool:
        return bool(self._files())

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self.path)}
