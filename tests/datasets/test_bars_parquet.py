"""The bars parquet dataset: round trip, empty when allowed, atomic writes, orphan clean-up."""

import logging
import signal
import subprocess
import sys
from pathlib import Path
from subprocess import PIPE

import pandas as pd
import pytest
from kedro.io import DatasetError

from rps_kedro.datasets import BarsParquetDataset


def test_round_trip_keeps_the_contract(tmp_path, simulated_bars):
    dataset = BarsParquetDataset(str(tmp_path / "bars.parquet"))
    dataset.save(simulated_bars)
    pd.testing.assert_frame_equal(dataset.load(), simulated_bars)


def test_saving_the_stored_bars_again_leaves_the_file_untouched(tmp_path, simulated_bars, caplog):
    path = tmp_path / "bars.parquet"
    dataset = BarsParquetDataset(str(path))
    dataset.save(simulated_bars)
    written = path.stat().st_mtime_ns
    with caplog.at_level(logging.INFO):
        dataset.save(simulated_bars.sample(frac=1.0, random_state=0))
    assert path.stat().st_mtime_ns == written
    assert "bars unchanged, file left as it was" in caplog.text
    dataset.save(simulated_bars.iloc[:-1])
    assert len(dataset.load()) == len(simulated_bars) - 1


def test_missing_file_loads_empty_only_when_allowed(tmp_path):
    path = str(tmp_path / "absent.parquet")
    assert BarsParquetDataset(path, missing_ok=True).load().empty
    with pytest.raises(DatasetError):
        BarsParquetDataset(path).load()


def test_failed_save_leaves_the_previous_file_byte_for_byte(tmp_path, simulated_bars):
    path = tmp_path / "bars.parquet"
    dataset = BarsParquetDataset(str(path))
    dataset.save(simulated_bars)
    before = path.read_bytes()
    broken = simulated_bars.copy()
    broken["close"] = "not a number"
    with pytest.raises(DatasetError):
        dataset.save(broken)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["bars.parquet"], "no temporary file left behind"


def test_interrupted_write_leaves_the_previous_file_intact(tmp_path, simulated_bars, monkeypatch):
    path = tmp_path / "bars.parquet"
    dataset = BarsParquetDataset(str(path))
    dataset.save(simulated_bars)
    before = path.read_bytes()

    def write_half_then_die(self, target, **kwargs):
        with open(target, "wb") as handle:
            handle.write(b"PAR1 half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_parquet", write_half_then_die)
    with pytest.raises(KeyboardInterrupt):
        dataset.save(simulated_bars.iloc[:10])
    assert path.read_bytes() == before


BARS_PARQUET = Path(__file__).parents[2] / "src" / "rps_kedro" / "datasets" / "bars_parquet.py"
# Saves the file given as argv[1] less its last bar and is SIGKILLed half-way through writing the temporary
# file. The module is loaded alone: importing the package would pull in mlflow (~10 s).
KILLED_WRITER = f"""
import importlib.util, os, signal, sys
import pandas as pd
spec = importlib.util.spec_from_file_location("bars_parquet", {str(BARS_PARQUET)!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)

def write_half_then_get_killed(self, target, **kwargs):
    with open(target, "wb") as handle:
        handle.write(b"PAR1 half a file")
    os.kill(os.getpid(), signal.SIGKILL)

pd.DataFrame.to_parquet = write_half_then_get_killed
module.BarsParquetDataset(sys.argv[1]).save(pd.read_parquet(sys.argv[1]).iloc[:-1])
"""


def orphans(directory: Path) -> list[Path]:
    """Temporary files of bars.parquet in `directory`."""
    return sorted(directory.glob(".bars.parquet.*.tmp"))


def test_temporary_file_of_a_killed_writer_is_removed_on_next_load_and_save(
    tmp_path, simulated_bars, caplog
):
    path = tmp_path / "bars.parquet"
    dataset = BarsParquetDataset(str(path))
    dataset.save(simulated_bars)
    before = path.read_bytes()

    killed = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(path)],
        check=False,
        capture_output=True,
        timeout=60,
    )

    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    (orphan,) = orphans(tmp_path)
    assert orphan.read_bytes() == b"PAR1 half a file"
    assert path.read_bytes() == before
    caplog.set_level(logging.WARNING, logger="rps_kedro.datasets.bars_parquet")

    pd.testing.assert_frame_equal(dataset.load(), simulated_bars)
    assert orphans(tmp_path) == []
    assert f"removed {orphan}" in caplog.text

    orphan.write_bytes(b"PAR1 half a file")  # the same leftover again, now met by a save
    dataset.save(simulated_bars.iloc[:10])
    assert [p.name for p in tmp_path.iterdir()] == ["bars.parquet"]
    assert len(dataset.load()) == 10


def test_temporary_file_of_a_running_writer_is_kept(tmp_path, simulated_bars):
    path = tmp_path / "bars.parquet"
    dataset = BarsParquetDataset(str(path))
    dataset.save(simulated_bars)
    other_file = tmp_path / ".other.parquet.1.abc.tmp"
    other_file.write_bytes(b"another dataset's")
    writer = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=PIPE)
    try:
        in_progress = tmp_path / f".bars.parquet.{writer.pid}.abc.tmp"
        in_progress.write_bytes(b"PAR1 being written")
        dataset.load()
        dataset.save(simulated_bars)
        assert in_progress.exists()
        assert other_file.exists()
    finally:
        writer.communicate(b"", timeout=30)
    dataset.load()
    assert not in_progress.exists()
