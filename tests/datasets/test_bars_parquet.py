"""The bars parquet dataset: round trip, empty when allowed, atomic writes."""

import pandas as pd
import pytest
from kedro.io import DatasetError

from rps_kedro.datasets import BarsParquetDataset


def test_round_trip_keeps_the_contract(tmp_path, simulated_bars):
    dataset = BarsParquetDataset(str(tmp_path / "bars.parquet"))
    dataset.save(simulated_bars)
    pd.testing.assert_frame_equal(dataset.load(), simulated_bars)


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
