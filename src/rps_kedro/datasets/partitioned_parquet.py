"""Rows keyed by (symbol, timestamp) as parquet partitions: one file per symbol and calendar month
(`<path>/<symbol>/<YYYY-MM>.parquet`, the symbol percent-encoded), so a run reads and writes only
the partitions it touches and writers of different symbols never write the same file.

- `save` upserts: each (symbol, month) of the saved rows is merged with its stored partition (the
  saved row wins on the same (symbol, timestamp)) and written only if that changes it. Stored
  partitions the saved rows do not reach are never touched, so the data only grows. With
  `replace: true` a save is the whole dataset instead (a full rebuild): the saved partitions are
  written as they are (when they differ) and every other stored partition is removed.
- `load` reads every partition, or with `tail_rows` each symbol's recent rows only: its newest
  months until they hold that many, so the cost does not grow with the length of the history.
  With `by_symbol: true` it reads nothing yet: it returns one loader per symbol (as Kedro's
  PartitionedDataset does per partition), so a node can go through the symbols one at a time and
  never hold every symbol's rows at once.
- Each file records a digest of its rows: a saved partition whose rows are the stored ones is
  recognised from the file's footer, without reading the file.
- `legacy_filepath`: the single parquet file of an earlier version is split into partitions (its
  rows never override stored ones) on the first load or save, then removed.

Each file is written to `.<name>.<pid>.<random>.tmp` beside it and renamed over it. A writer
killed mid-write (SIGKILL, OOM, a lost Airflow worker) leaves that temporary file behind; loads and
saves remove every one in the folders they visit whose writer process no longer runs on this host.
A symbol's months are written oldest first: a save cut short leaves each symbol's stored rows a
prefix of its saved ones, never a hole behind its newest bar.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from kedro.io import AbstractDataset, DatasetError

from rps_kedro.core.bars import KEY_COLUMNS, conform_bars, empty_bars
from rps_kedro.core.symbol_names import symbol_file_name, symbol_from_file_name
from rps_kedro.sharding import shard_of

logger = logging.getLogger(__name__)
SUFFIX = ".parquet"
DIGEST = b"rps_kedro.rows_sha256"  # the file's key-value metadata: its rows' digest
# `.<file name>.<writer pid>.<mkstemp's random letters>.tmp`
TEMPORARY = re.compile(r"^\.(?P<target>.+)\.(?P<pid>\d+)\.[a-z0-9_]+\.tmp$")


def process_running(pid: int) -> bool:
    """Whether a process with this id runs on this host (one we may not signal counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists under another user
        return True
    return True


def remove_orphans(directory: Path, target: str | None = None) -> None:
    """Delete the temporary files in `directory` (of `target` only, if given) left by writers that
    no longer run."""
    if not directory.is_dir():
        return
    for temporary in directory.glob(".*.tmp"):
        match = TEMPORARY.match(temporary.name)
        if not match or (target is not None and match["target"] != target):
            continue
        pid = int(match["pid"])
        if pid == os.getpid() or process_running(pid):
            continue
        temporary.unlink(missing_ok=True)
        logger.warning("removed %s, left by a writer (pid %s) that no longer runs", temporary, pid)


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """One 64-bit hash of each row's values (not the index)."""
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def rows_digest(columns: pd.Index, hashes: np.ndarray) -> bytes:
    """A digest of rows in order, from their column names and row hashes."""
    digest = hashlib.sha256("\x1f".join(map(str, columns)).encode())
    digest.update(hashes.tobytes())
    return digest.hexdigest().encode()


def sort_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows sorted by (symbol, timestamp), with a fresh index (sorted rows, as loaded ones
    are, are not copied)."""
    keys = frame[KEY_COLUMNS].reset_index(drop=True)
    order = keys.sort_values(KEY_COLUMNS, kind="stable").index  # positions
    frame = frame.iloc[:] if order.equals(keys.index) else frame.iloc[order]
    frame.index = pd.RangeIndex(len(frame))  # reset_index would copy every column
    return frame


def stored_digest(target: Path) -> bytes | None:
    """The digest a partition file records (read from its footer), if it exists and has one."""
    if not target.exists():
        return None
    return (pq.read_schema(target).metadata or {}).get(DIGEST)


def replace_atomically(target: Path, write: Callable[[str], object]) -> None:
    """`write` a temporary file beside the target (given its path), then rename it over the
    target: readers see the old file or the new one, never half of one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp"
    )
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)


def write_table_atomically(table: pa.Table, digest: bytes, target: Path) -> None:
    """Write the rows (as an Arrow table) and their digest to the target, atomically."""
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), DIGEST: digest})
    # Dictionary encoding and statistics for the key columns only: of float features they
    # only cost time (a month of 60 features: 5.3 -> 2.3 ms a file, 14 % smaller).
    keys = [column for column in KEY_COLUMNS if column in table.column_names]
    write = partial(pq.write_table, table, use_dictionary=keys, write_statistics=keys)
    replace_atomically(target, write)


def write_parquet_atomically(frame: pd.DataFrame, target: Path) -> None:
    """Write the rows and their digest to the target, atomically."""
    digest = rows_digest(frame.columns, row_hashes(frame))
    write_table_atomically(pa.Table.from_pandas(frame, preserve_index=False), digest, target)


def read_parquet_files(paths: list[Path]) -> pd.DataFrame:
    """The rows of these parquet files, in order, as one frame."""
    return pq.read_table([str(path) for path in paths]).to_pandas()


class PartitionedParquetDataset(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """Rows keyed by (symbol, timestamp), one parquet file per symbol and month (module doc)."""

    def __init__(  # noqa: PLR0913
        self,
        path: str,
        tail_rows: int | None = None,
        replace: bool = False,
        missing_ok: bool = False,
        legacy_filepath: str | None = None,
        shard: dict[str, int] | None = None,
        by_symbol: bool = False,
        metadata: dict[str, Any] | None = None,
    ):
        self.path = Path(path)
        self.shard = shard or {"index": 0, "count": 1}
        self.tail_rows = tail_rows
        self.replace = replace
        self.by_symbol = by_symbol
        self.missing_ok = missing_ok
        self.legacy_filepath = Path(legacy_filepath) if legacy_filepath else None
        self.metadata = metadata

    def conform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows sorted by (symbol, timestamp), with a fresh index."""
        return sort_rows(frame)

    def empty(self) -> pd.DataFrame:
        """What loads when nothing is stored and that is allowed."""
        return pd.DataFrame(columns=KEY_COLUMNS)

    def load(self) -> pd.DataFrame | dict[str, Callable[[], pd.DataFrame]]:
        """Every partition, or each symbol's newest ones holding `tail_rows` rows; empty if
        nothing is stored and that is allowed. With `by_symbol`: a loader of each symbol's rows,
        in symbol order."""
        self._migrate_legacy_file()
        files = {
            symbol_from_file_name(folder.name): self._symbol_files(folder)
            for folder in self._symbols()
        }
        if not any(files.values()):
            if self.missing_ok:
                return {} if self.by_symbol else self.empty()
            raise DatasetError(f"{self.path}: no partition stored")
        if self.by_symbol:
            return {
                symbol: partial(self._load_files, paths) for symbol, paths in files.items() if paths
            }
        return self._load_files([path for paths in files.values() for path in paths])

    def _load_files(self, paths: list[Path]) -> pd.DataFrame:
        """The rows of these partition files, conformed."""
        return self.conform(read_parquet_files(paths))

    def save(self, data: pd.DataFrame | dict[str, Callable[[], pd.DataFrame]]) -> None:
        """Upsert each saved (symbol, month) partition, writing only those that change (with
        `replace`, remove every other partition too). A dict of callables (one per symbol,
        say) is built and written one part at a time, never held whole in memory."""
        self._migrate_legacy_file()
        keep = None if self.replace else "last"
        parts = data.values() if isinstance(data, dict) else [data]
        saved = set()
        for part in parts:
            saved |= self._upsert_all(self.conform(part() if callable(part) else part), keep)
        if self.replace:
            self._remove_partitions_except(saved)

    def _upsert_all(self, rows: pd.DataFrame, keep: str | None) -> set[Path]:
        """Upsert every (symbol, month) of the sorted rows (`_upsert`), each symbol's oldest
        month first; the partition files they reach. The rows become one Arrow table, sliced
        per partition without copying: converting each partition apart costs more than the
        writing (~10 ms a partition)."""
        hashes = row_hashes(rows)
        table = pa.Table.from_pandas(rows, preserve_index=False)
        saved = set()
        for target, start, end in self._partitions(rows):
            saved.add(target)
            digest = rows_digest(rows.columns, hashes[start:end])
            self._upsert(target, table.slice(start, end - start), digest, keep)
        return saved

    def _partitions(self, rows: pd.DataFrame) -> Iterator[tuple[Path, int, int]]:
        """Each (symbol, month) of the sorted rows: its file and its rows' positions."""
        timestamps = pd.to_datetime(rows["timestamp"], utc=True).dt
        months = (timestamps.year * 100 + timestamps.month).to_numpy()
        symbols = rows["symbol"].to_numpy()
        changes = np.flatnonzero((symbols[1:] != symbols[:-1]) | (months[1:] != months[:-1]))
        starts = [0, *(changes + 1).tolist()]
        for start, end in zip(starts, [*starts[1:], len(rows)], strict=True):
            if start == end:
                continue  # no rows at all
            month = months[start]
            name = f"{month // 100:04d}-{month % 100:02d}{SUFFIX}"
            yield self.path / symbol_file_name(symbols[start]) / name, start, end

    def _upsert(self, target: Path, rows: pa.Table, digest: bytes, keep: str | None) -> None:
        """Merge the rows (whose digest is given) into the stored partition (`keep`: which wins
        on the same key, "last" the rows, "first" the stored ones; None: the rows replace it)
        and write it if that changes it."""
        remove_orphans(target.parent, target.name)
        if stored_digest(target) == digest:
            return  # the saved rows are the stored partition: file left as it was
        if keep is None or not target.exists():
            write_table_atomically(rows, digest, target)
            return
        stored = read_parquet_files([target])
        both = pd.concat([stored, rows.to_pandas()], ignore_index=True)
        merged = sort_rows(both.drop_duplicates(KEY_COLUMNS, keep=keep))
        if not merged.equals(stored):
            write_parquet_atomically(merged, target)

    def _remove_partitions_except(self, kept: set[Path]) -> None:
        """Delete every stored partition not in `kept` (a full rebuild's stale ones)."""
        for folder in self._symbols():
            for path in self._symbol_files(folder, tail_rows=None):
                if path not in kept:
                    path.unlink()
                    logger.info("%s: removed, absent from the rebuilt data", path)
            if not any(folder.iterdir()):
                folder.rmdir()

    def _symbols(self) -> list[Path]:
        """Each stored symbol's folder, in symbol order: of this dataset's shard only (a shard's
        run reads and replaces only its own symbols; rps_kedro.sharding)."""
        if not self.path.is_dir():
            return []
        index, count = self.shard["index"], self.shard["count"]
        folders = [
            folder
            for folder in self.path.iterdir()
            if folder.is_dir() and shard_of(symbol_from_file_name(folder.name), count) == index
        ]
        return sorted(folders, key=lambda folder: symbol_from_file_name(folder.name))

    def _symbol_files(self, folder: Path, tail_rows: int | None = -1) -> list[Path]:
        """A symbol's partition files, oldest first: all, or its newest ones holding at least
        `tail_rows` rows (-1: the dataset's `tail_rows`)."""
        remove_orphans(folder)
        files = sorted(folder.glob(f"[!.]*{SUFFIX}"))
        tail_rows = self.tail_rows if tail_rows == -1 else tail_rows
        if tail_rows is None:
            return files
        count = 0
        for start in range(len(files) - 1, -1, -1):
            count += pq.ParquetFile(files[start]).metadata.num_rows
            if count >= tail_rows:
                return files[start:]
        return files

    def _migrate_legacy_file(self) -> None:
        """Split an earlier version's single file into partitions (stored rows win), then
        remove it."""
        legacy = self.legacy_filepath
        if legacy is None:
            return
        remove_orphans(legacy.parent, legacy.name)
        if not legacy.is_file():
            return
        self._upsert_all(self.conform(read_parquet_files([legacy])), keep="first")
        legacy.unlink(missing_ok=True)
        logger.warning("%s: split into partitions under %s, then removed", legacy, self.path)

    def _exists(self) -> bool:
        return bool(self._symbols()) or bool(
            self.legacy_filepath and self.legacy_filepath.is_file()
        )

    def _describe(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "tail_rows": self.tail_rows,
            "replace": self.replace,
            "by_symbol": self.by_symbol,
            "missing_ok": self.missing_ok,
            "legacy_filepath": str(self.legacy_filepath) if self.legacy_filepath else None,
            "shard": self.shard,
        }


class BarsParquetDataset(PartitionedParquetDataset):
    """Bars partitioned by symbol and month, held to the bars contract (core/bars.py) on every
    load and save."""

    def conform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The bars contract, sorted by (symbol, timestamp)."""
        return conform_bars(frame)

    def empty(self) -> pd.DataFrame:
        """An empty frame of the bars contract."""
        return empty_bars()
