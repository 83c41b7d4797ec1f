"""Bars stored as one parquet file, written atomically so a failed or killed run loses nothing."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset

from rps_kedro.bars import conform_bars, empty_bars


class BarsParquetDataset(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """Local parquet of the bars contract; an absent file loads as empty when `missing_ok`."""

    def __init__(
        self, filepath: str, missing_ok: bool = False, metadata: dict[str, Any] | None = None
    ):
        self.filepath = Path(filepath)
        self.missing_ok = missing_ok
        self.metadata = metadata

    def load(self) -> pd.DataFrame:
        """Read the bars, or an empty contract frame if the file is absent and that is allowed."""
        if self.missing_ok and not self.filepath.exists():
            return empty_bars()
        return conform_bars(pd.read_parquet(self.filepath))

    def save(self, data: pd.DataFrame) -> None:
        """Write to a temporary file beside the target, then rename it over the target."""
        bars = conform_bars(data)
        self.filepath.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            dir=self.filepath.parent, prefix=f".{self.filepath.name}.", suffix=".tmp"
        )
        os.close(handle)
        try:
            bars.to_parquet(temporary, index=False)
            os.replace(temporary, self.filepath)
        finally:
            Path(temporary).unlink(missing_ok=True)

    def _exists(self) -> bool:
        return self.filepath.exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self.filepath), "missing_ok": self.missing_ok}
