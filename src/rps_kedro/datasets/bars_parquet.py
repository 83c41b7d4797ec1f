"""Bars stored as one parquet file, written atomically so a failed or killed run loses nothing.

A save writes `.<name>.<pid>.<random>.tmp` beside the target and renames it over the target. A
writer killed mid-write (SIGKILL, OOM, a lost Airflow worker) leaves that temporary file behind;
the next load or save removes every one whose writer process no longer runs on this host.
"""

from __future__ import annotations

import glob
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset

from rps_kedro.core.bars import conform_bars, empty_bars

logger = logging.getLogger(__name__)


def process_running(pid: int) -> bool:
    """Whether a process with this id runs on this host (one we may not signal counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists under another user
        return True
    return True


def writer_pid(temporary: Path, prefix: str) -> int | None:
    """The writer's process id in a temporary file's name, if it has one."""
    pid = temporary.name.removeprefix(prefix).split(".", 1)[0]
    return int(pid) if pid.isdigit() else None


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
        self._remove_orphans()
        if self.missing_ok and not self.filepath.exists():
            return empty_bars()
        return conform_bars(pd.read_parquet(self.filepath))

    def save(self, data: pd.DataFrame) -> None:
        """Write to a temporary file beside the target, then rename it over the target; bars
        equal to the stored ones leave the file untouched."""
        bars = conform_bars(data)
        self.filepath.parent.mkdir(parents=True, exist_ok=True)
        self._remove_orphans()
        if self.filepath.exists() and bars.equals(conform_bars(pd.read_parquet(self.filepath))):
            logger.info("%s: bars unchanged, file left as it was", self.filepath)
            return
        handle, temporary = tempfile.mkstemp(
            dir=self.filepath.parent,
            prefix=f"{self._temporary_prefix}{os.getpid()}.",
            suffix=".tmp",
        )
        os.close(handle)
        try:
            bars.to_parquet(temporary, index=False)
            os.replace(temporary, self.filepath)
        finally:
            Path(temporary).unlink(missing_ok=True)

    @property
    def _temporary_prefix(self) -> str:
        """Start of the names of this file's temporary files."""
        return f".{self.filepath.name}."

    def _remove_orphans(self) -> None:
        """Delete temporary files of this target left by writers that no longer run."""
        pattern = glob.escape(self._temporary_prefix) + "*.tmp"
        for temporary in self.filepath.parent.glob(pattern):
            pid = writer_pid(temporary, self._temporary_prefix)
            if pid == os.getpid() or (pid is not None and process_running(pid)):
                continue
            temporary.unlink(missing_ok=True)
            logger.warning(
                "removed %s, left by a writer (pid %s) that no longer runs", temporary, pid
            )

    def _exists(self) -> bool:
        return self.filepath.exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self.filepath), "missing_ok": self.missing_ok}
