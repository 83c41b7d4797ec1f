"""The partitioned parquet datasets: one file per symbol and month, upserts that only grow and
leave unchanged files alone, recent-tail loads, the legacy single file's migration, atomic
writes, orphan clean-up and concurrent writers of different symbols."""

import logging
import signal
import subprocess
import sys
from pathlib import Path
from subprocess import PIPE

import pandas as pd
import pyarrow.parquet as pq
import pytest
from kedro.io import DatasetError

from rps_kedro.core.bars import conform_bars
from rps_kedro.datasets import BarsParquetDataset, PartitionedParquetDataset
from rps_kedro.sharding import shard_symbols

MODULE = Path(__file__).parents[2] / "src" / "rps_kedro" / "datasets" / "partitioned_parquet.py"
# The module loaded alone: importing the package would pull in mlflow (~10 s).
LOAD_MODULE = f"""
import importlib.util, os, signal, sys
import pandas as pd
spec = importlib.util.spec_from_file_location("partitioned_parquet", {str(MODULE)!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
"""
# Saves the parquet file argv[2] into the dataset at argv[1] and is SIGKILLed half-way through
# writing its first temporary file.
KILLED_WRITER = (
    LOAD_MODULE
    + """
def write_half_then_get_killed(table, target, **kwargs):
    with open(target, "wb") as handle:
        handle.write(b"PAR1 half a file")
    os.kill(os.getpid(), signal.SIGKILL)

module.pq.write_table = write_half_then_get_killed
module.BarsParquetDataset(sys.argv[1]).save(pd.read_parquet(sys.argv[2]))
"""
)
# Saves the bars of the parquet file argv[2] into the dataset at argv[1] one hour at a time.
HOURLY_WRITER = (
    LOAD_MODULE
    + """
bars = pd.read_parquet(sys.argv[2])
dataset = module.BarsParquetDataset(sys.argv[1])
for _, hour in bars.groupby("timestamp"):
    dataset.save(hour)
"""
)


def files(root: Path) -> dict[str, bytes]:
    """Every file under `root` (temporaries too) with its bytes, by relative path."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def modified(root: Path) -> dict[str, int]:
    """Every partition file under `root` with its modification time (ns)."""
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*.parquet")}


@pytest.fixture
def bars(simulated_bars) -> pd.DataFrame:
    """120 days (five calendar months) of two stocks and two crypto pairs."""
    return simulated_bars


def test_round_trip_keeps_the_contract_with_one_file_per_symbol_and_month(tmp_path, bars):
    dataset = BarsParquetDataset(str(tmp_path / "bars"))
    dataset.save(bars)
    pd.testing.assert_frame_equal(dataset.load(), bars)
    months = bars["timestamp"].dt.strftime("%Y-%m")
    expected = {f"{s}/{m}.parquet" for s, m in zip(bars["symbol"], months, strict=True)}
    assert set(modified(tmp_path / "bars")) == expected
    # any parquet reader reads the folder as the whole table
    pd.testing.assert_frame_equal(conform_bars(pd.read_parquet(tmp_path / "bars")), bars)


def test_symbol_names_become_safe_folder_names_and_load_back(tmp_path, bars):
    renamed = bars.replace({"symbol": {"AAPL": "BRK/B", "MSFT": "..", "BTC-USD": "_X.Y"}})
    dataset = BarsParquetDataset(str(tmp_path / "bars"))
    dataset.save(renamed)
    assert sorted(p.name for p in (tmp_path / "bars").iterdir()) == [
        "%2E%2E",
        "%5FX%2EY",
        "BRK%2FB",
        "ETH-USD",
    ]
    pd.testing.assert_frame_equal(dataset.load(), conform_bars(renamed))


def test_save_upserts_saved_rows_win_and_stored_rows_stay(tmp_path, bars):
    dataset = BarsParquetDataset(str(tmp_path / "bars"))
    dataset.save(bars)
    last = bars.groupby("symbol").tail(1)
    revised = last.assign(close=last["close"] * 1.01)
    dataset.save(revised)
    stored = dataset.load()
    assert len(stored) == len(bars), "nothing dropped, nothing duplicated"
    newest = stored.groupby("symbol").tail(1).reset_index(drop=True)
    pd.testing.assert_frame_equal(newest, revised.reset_index(drop=True))
    dataset.save(bars.iloc[:10])  # fewer bars: the primary bars only grow
    assert len(dataset.load()) == len(bars)


def test_unchanged_bars_leave_every_file_untouched_and_a_new_hour_rewrites_one_per_symbol(
    tmp_path, bars
):
    root = tmp_path / "bars"
    dataset = BarsParquetDataset(str(root))
    history = bars[bars["timestamp"] < bars["timestamp"].max()]
    dataset.save(history)
    written = modified(root)

    dataset.save(history.sample(frac=1.0, random_state=0))
    assert modified(root) == written

    dataset.save(bars)  # history + the newest hour: the crypto pairs' last bar (a Monday, 23:00)
    changed = {path for path, mtime in modified(root).items() if written.get(path) != mtime}
    assert changed == {"BTC-USD/2025-06.parquet", "ETH-USD/2025-06.parquet"}
    pd.testing.assert_frame_equal(dataset.load(), bars)


def test_tail_load_reads_each_symbols_newest_months_only(tmp_path, bars):
    root = tmp_path / "bars"
    BarsParquetDataset(str(root)).save(bars)
    # an old month no tail load may read: a corrupt file there would make it fail
    (root / "BTC-USD" / "2025-03.parquet").write_bytes(b"not parquet")
    recent = BarsParquetDataset(str(root), tail_rows=300).load()
    first = recent.groupby("symbol")["timestamp"].min()
    # whole months: June alone for the crypto pairs (720 bars), back to April for the stocks
    # (about 147 session bars a month)
    assert first.dt.strftime("%Y-%m").to_dict() == {
        "AAPL": "2025-04",
        "BTC-USD": "2025-06",
        "ETH-USD": "2025-06",
        "MSFT": "2025-04",
    }
    newest = bars[bars["timestamp"] >= bars["symbol"].map(first)].reset_index(drop=True)
    pd.testing.assert_frame_equal(recent, newest)
    assert recent.groupby("symbol").size().min() >= 300
    with pytest.raises(DatasetError):
        BarsParquetDataset(str(root)).load()


def test_nothing_stored_loads_empty_only_when_allowed(tmp_path):
    path = str(tmp_path / "absent")
    assert BarsParquetDataset(path, missing_ok=True).load().empty
    assert not BarsParquetDataset(path).exists()
    with pytest.raises(DatasetError):
        BarsParquetDataset(path).load()


def test_legacy_single_file_is_split_into_partitions_once_and_removed(tmp_path, bars, caplog):
    legacy = tmp_path / "bars.parquet"
    bars.to_parquet(legacy, index=False)
    root = tmp_path / "bars"
    # a partition written since (by a newer run) wins over the legacy file's rows
    newer = bars[bars["symbol"] == "AAPL"].tail(3).assign(volume=1.0)
    PartitionedParquetDataset(str(root)).save(newer)
    dataset = BarsParquetDataset(str(root), tail_rows=5, legacy_filepath=str(legacy))
    assert dataset.exists()

    with caplog.at_level(logging.WARNING):
        recent = dataset.load()

    assert not legacy.exists()
    assert "split into partitions" in caplog.text
    expected = pd.concat([bars.drop(newer.index), newer])
    pd.testing.assert_frame_equal(BarsParquetDataset(str(root)).load(), conform_bars(expected))
    assert recent["timestamp"].dt.month.unique().tolist() == [6]


def test_failed_save_leaves_every_file_byte_for_byte(tmp_path, bars):
    root = tmp_path / "bars"
    dataset = BarsParquetDataset(str(root))
    dataset.save(bars)
    before = files(root)
    broken = bars.copy()
    broken["close"] = "not a number"
    with pytest.raises(DatasetError):
        dataset.save(broken)
    assert files(root) == before, "nothing changed, no temporary file left behind"


def test_interrupted_write_leaves_the_previous_file_intact(tmp_path, bars, monkeypatch):
    root = tmp_path / "bars"
    dataset = BarsParquetDataset(str(root))
    dataset.save(bars)
    before = files(root)

    def write_half_then_die(table, target, **kwargs):
        with open(target, "wb") as handle:
            handle.write(b"PAR1 half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(pq, "write_table", write_half_then_die)
    with pytest.raises(KeyboardInterrupt):
        dataset.save(bars.assign(volume=0.0))
    assert files(root) == before


def orphans(root: Path) -> list[Path]:
    """Temporary files under `root`."""
    return sorted(root.rglob(".*.tmp"))


def test_temporary_file_of_a_killed_writer_is_removed_on_next_load_and_save(tmp_path, bars, caplog):
    root = tmp_path / "bars"
    dataset = BarsParquetDataset(str(root))
    dataset.save(bars)
    before = files(root)
    update = tmp_path / "update.parquet"
    bars.assign(volume=0.0).to_parquet(update)

    killed = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(root), str(update)],
        check=False,
        capture_output=True,
        timeout=60,
    )

    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    (orphan,) = orphans(root)
    assert orphan.parent.name == "AAPL" and orphan.name.startswith(".2025-03.parquet.")
    assert orphan.read_bytes() == b"PAR1 half a file"
    assert {k: v for k, v in files(root).items() if not k.endswith(".tmp")} == before
    caplog.set_level(logging.WARNING, logger="rps_kedro.datasets.partitioned_parquet")

    pd.testing.assert_frame_equal(dataset.load(), bars)
    assert orphans(root) == []
    assert f"removed {orphan}" in caplog.text

    orphan.write_bytes(b"PAR1 half a file")  # the same leftover again, now met by a save
    dataset.save(bars.iloc[:10])
    assert orphans(root) == []


def test_temporary_file_of_a_running_writer_is_kept(tmp_path, bars):
    root = tmp_path / "bars"
    dataset = BarsParquetDataset(str(root))
    dataset.save(bars)
    other_file = root / "AAPL" / ".other.txt.1.abc.tmp"
    other_file.write_bytes(b"not a partition's")
    writer = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=PIPE)
    try:
        in_progress = root / "AAPL" / f".2025-06.parquet.{writer.pid}.abc.tmp"
        in_progress.write_bytes(b"PAR1 being written")
        dataset.load()
        dataset.save(bars)
        assert in_progress.exists()
    finally:
        writer.communicate(b"", timeout=30)
    dataset.load()
    assert not in_progress.exists()
    assert other_file.exists(), "only the temporaries of dead parquet writers are removed"


def test_concurrent_writers_of_different_symbols_lose_nothing(tmp_path, bars):
    root = tmp_path / "bars"
    recent = bars[bars["timestamp"] >= pd.Timestamp("2025-06-25", tz="UTC")]
    shards = [["AAPL", "BTC-USD"], ["MSFT", "ETH-USD"]]
    writers = []
    for index, shard in enumerate(shards):
        path = tmp_path / f"shard{index}.parquet"
        recent[recent["symbol"].isin(shard)].to_parquet(path)
        command = [sys.executable, "-c", HOURLY_WRITER, str(root), str(path)]
        writers.append(subprocess.Popen(command, stderr=PIPE))
    for writer in writers:
        _, errors = writer.communicate(timeout=120)
        assert writer.returncode == 0, errors.decode()
    pd.testing.assert_frame_equal(BarsParquetDataset(str(root)).load(), conform_bars(recent))
    assert orphans(root) == []


def test_replace_rebuilds_the_whole_dataset_and_keeps_unchanged_files(tmp_path, bars):
    root = tmp_path / "model_input"
    features = bars.assign(feature=bars["close"].pct_change())
    dataset = PartitionedParquetDataset(str(root), replace=True)
    dataset.save(features)
    written = modified(root)
    rebuilt = features[(features["symbol"] != "MSFT")]
    rebuilt = rebuilt[rebuilt["timestamp"] >= pd.Timestamp("2025-04-01", tz="UTC")]

    dataset.save(rebuilt)

    assert not (root / "MSFT").exists(), "a symbol absent from the rebuild is removed"
    kept = {path for path in written if "2025-03" not in path and not path.startswith("MSFT")}
    assert set(modified(root)) == kept
    assert all(modified(root)[path] == written[path] for path in modified(root))
    pd.testing.assert_frame_equal(dataset.load(), rebuilt.reset_index(drop=True))


def test_a_shard_reads_and_replaces_only_its_own_symbols(tmp_path, bars):
    root = tmp_path / "bars"
    BarsParquetDataset(str(root)).save(bars)
    written = modified(root)
    shards = [BarsParquetDataset(str(root), shard={"index": i, "count": 2}) for i in (0, 1)]
    loaded = [shard.load() for shard in shards]
    for index, frame in enumerate(loaded):
        assert set(frame["symbol"]) == set(shard_symbols(sorted(bars["symbol"].unique()), index, 2))
    pd.testing.assert_frame_equal(
        conform_bars(pd.concat(loaded)), bars, check_like=True
    )  # together: every bar, once
    features = PartitionedParquetDataset(str(tmp_path / "features"), replace=True)
    features.save(bars)
    mine = PartitionedParquetDataset(
        str(tmp_path / "features"), replace=True, shard={"index": 0, "count": 2}
    )
    mine.save(loaded[0].iloc[:0])  # shard 0's rebuild has no rows at all
    assert set(features.load()["symbol"]) == set(loaded[1]["symbol"]), "shard 1's rows stay"
    assert modified(root) == written


def test_a_dict_of_builders_is_written_one_part_at_a_time(tmp_path, bars):
    built = []

    def builder(symbol):
        def build():
            assert len(built) == len(set(built)), "each part is built once"
            built.append(symbol)
            return bars[bars["symbol"] == symbol]

        return build

    dataset = PartitionedParquetDataset(str(tmp_path / "model_input"), replace=True)
    dataset.save({symbol: builder(symbol) for symbol in sorted(bars["symbol"].unique())})
    assert built == sorted(bars["symbol"].unique())
    pd.testing.assert_frame_equal(dataset.load(), bars.reset_index(drop=True), check_dtype=False)


def test_by_symbol_load_reads_nothing_until_a_symbols_loader_is_called(tmp_path, bars):
    root = tmp_path / "model_input"
    PartitionedParquetDataset(str(root)).save(bars)
    (root / "BTC-USD" / "2025-03.parquet").write_bytes(b"not parquet")  # read only if called
    loaders = PartitionedParquetDataset(str(root), by_symbol=True).load()
    assert list(loaders) == sorted(bars["symbol"].unique())
    for symbol in ("AAPL", "ETH-USD", "MSFT"):
        expected = bars[bars["symbol"] == symbol].reset_index(drop=True)
        pd.testing.assert_frame_equal(loaders[symbol](), expected, check_dtype=False)
    with pytest.raises(Exception, match="parquet|Parquet"):
        loaders["BTC-USD"]()
    assert (
        PartitionedParquetDataset(str(tmp_path / "absent"), by_symbol=True, missing_ok=True).load()
        == {}
    )
