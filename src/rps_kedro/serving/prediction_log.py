"""Every forecast the service answers, appended as a JSON line to an hourly file, off the request
path: `record()` only queues the rows; one writer thread per process formats and appends them,
and `close()` (the service's shutdown) drains the queue, so nothing answered is lost on a clean
stop.

Layout, one partition per file (the live_scoring pipeline reads it as a Kedro
PartitionedDataset of JSON lines):

    <directory>/date=2026-11-30/hour=14/<host>-<pid>.jsonl

Files rotate with the hour the forecast was served in. Each process writes only its own files,
so several workers (or machines sharing the folder) never interleave lines. With a retention,
each new hour's file removes the day partitions older than `retention_days` (the scheduled
forecasts' too: they share the folder); live scoring reads far less (`lookback_days`).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import socket
import threading
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

logger = logging.getLogger(__name__)
_STOP = None  # the queue's end marker


def partition_path(directory: Path, served_at: datetime, writer: str) -> Path:
    """The file of the hour `served_at` falls in (UTC), for one writer."""
    hour = served_at.astimezone(UTC)
    return directory / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}" / f"{writer}.jsonl"


def writer_name() -> str:
    """This process's name in file names: host and process id."""
    return f"{socket.gethostname()}-{os.getpid()}"


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    raise TypeError(f"cannot log {type(value).__name__}")


def request_rows(
    forecasts: Iterable[tuple[dict[str, Any], dict[str, float]]], model_name: str
) -> list[dict[str, Any]]:
    """The log rows of one request's (prediction, baseline forecasts) pairs: one request id,
    the time it was served, the source and the model's name with each."""
    common = {
        "request_id": uuid.uuid4().hex,
        "served_at": datetime.now(UTC),
        "source": "http",
        "model_name": model_name,
    }
    return [{**common, **prediction, **baselines} for prediction, baselines in forecasts]


class PredictionLog:
    """Hourly JSON-lines files of served forecasts, written by a background thread."""

    def __init__(
        self, directory: str | Path, writer: str | None = None, retention_days: int | None = None
    ):
        self.directory = Path(directory)
        self.writer = writer or writer_name()
        self.retention_days = retention_days
        self.rows_written = 0
        self._queue: queue.SimpleQueue[list[dict[str, Any]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._write_until_closed, name="rps-prediction-log", daemon=True
        )
        self._thread.start()

    def record(self, rows: list[dict[str, Any]]) -> None:
        """Queue rows (each with a `served_at` datetime) for the writer; never blocks."""
        self._queue.put(rows)

    def close(self, timeout: float = 30.0) -> None:
        """Write every queued row, then stop the writer."""
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _next_batch(self) -> tuple[list[dict[str, Any]], bool]:
        """Every queued row (waiting for the first), and whether the log was closed."""
        rows: list[dict[str, Any]] = []
        item = self._queue.get()
        while item is not _STOP:
            rows.extend(item)
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return rows, False
        return rows, True

    def _write_until_closed(self) -> None:
        handle: TextIO | None = None
        path: Path | None = None
        closed = False
        while not closed:
            rows, closed = self._next_batch()
            try:
                for row in rows:
                    target = partition_path(self.directory, row["served_at"], self.writer)
                    if target != path:
                        if handle is not None:
                            handle.close()
                        target.parent.mkdir(parents=True, exist_ok=True)
                        handle, path = target.open("a", encoding="utf-8"), target
                        self._expire(row["served_at"])
                    handle.write(json.dumps(row, default=_json_default) + "\n")
                if handle is not None:
                    handle.flush()
                self.rows_written += len(rows)
            except OSError:
                logger.exception("could not write %d predictions to %s", len(rows), path)
        if handle is not None:
            handle.close()

    def _expire(self, now: datetime) -> None:
        """Remove the day partitions older than the retention (another writer may race us)."""
        if self.retention_days is None:
            return
        oldest = f"date={now.astimezone(UTC) - timedelta(days=self.retention_days):%Y-%m-%d}"
        for day in self.directory.glob("date=*"):
            if day.name < oldest:
                shutil.rmtree(day, ignore_errors=True)
                logger.info(
                    "prediction log: removed %s (older than %d days)", day, self.retention_days
                )
