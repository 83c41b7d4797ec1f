"""End to end: `kedro run` on a temporary copy of the project, twice, incrementally."""

import json
import shutil

import pandas as pd
import pytest

from rps_kedro.core.bars import BAR_COLUMNS
from rps_kedro.datasets import BarsParquetDataset
from tests.conftest import kedro_run, write_light_parameters

pytestmark = pytest.mark.integration
ONE_SHARD = "shard-0-of-1"  # a run without shards (rps_kedro.sharding)
PRIMARY_BARS = "data/03_primary/bars"


def _snapshots(project):
    return sorted(
        (project / f"data/01_raw/bars_snapshot/{ONE_SHARD}/bars_snapshot.parquet").glob("*/*")
    )


def test_kedro_run_ingests_then_updates_incrementally(project):
    first = kedro_run(
        project, "--pipelines", "ingestion,validation", "--params", "simulator_end=2025-06-01 00:00"
    )
    assert first.returncode == 0, first.stderr[-3000:]
    [snapshot] = _snapshots(project)
    bars = pd.read_parquet(snapshot)
    assert list(bars.columns) == BAR_COLUMNS
    assert set(bars["symbol"]) == {"AAPL", "MSFT", "SPY", "BTC-USD", "ETH-USD"}
    assert bars["timestamp"].max() == pd.Timestamp("2025-06-01 00:00", tz="UTC")
    history = BarsParquetDataset(str(project / PRIMARY_BARS)).load()
    assert len(history) == len(bars)

    second = kedro_run(
        project, "--pipelines", "ingestion,validation", "--params", "simulator_end=2025-06-02 00:00"
    )
    assert second.returncode == 0, second.stderr[-3000:]
    assert len(_snapshots(project)) == 2
    update = pd.read_parquet(_snapshots(project)[-1])
    assert set(update["symbol"]) == {"BTC-USD", "ETH-USD"}, "Sunday: only crypto traded"
    assert update.groupby("symbol").size().tolist() == [24, 24]
    merged = BarsParquetDataset(str(project / PRIMARY_BARS)).load()
    assert len(merged) == len(history) + 48
    assert not merged.duplicated(["symbol", "timestamp"]).any()


def refreshed_light_project(project) -> BarsParquetDataset:
    """Two symbols refreshed up to 2025-06-03 by the simulator; the primary bars."""
    write_light_parameters(project)
    clean = kedro_run(
        project, "--pipelines", "ingestion,validation", "--params", "simulator_end=2025-06-03 00:00"
    )
    assert clean.returncode == 0, clean.stderr[-3000:]
    return BarsParquetDataset(str(project / PRIMARY_BARS))


def partition_bytes(primary: BarsParquetDataset) -> dict[str, bytes]:
    """Every file of the primary bars with its bytes, by path."""
    return {str(path): path.read_bytes() for path in primary.path.rglob("*") if path.is_file()}


def replay_next(project, snapshot: pd.DataFrame) -> None:
    """Make the next run's market source replay exactly these bars."""
    snapshot.to_parquet(project / "data/01_raw/replayed.parquet")
    (project / "conf/local/catalog.yml").write_text(
        "market_source:\n"
        "  type: rps_kedro.datasets.ReplayMarketDataset\n"
        "  filepath: data/01_raw/replayed.parquet\n"
    )


def test_one_corrupted_symbol_is_quarantined_and_the_other_refreshed(project):
    primary = refreshed_light_project(project)
    complete = primary.load()
    last_day = complete["timestamp"] > pd.Timestamp("2025-06-02 00:00", tz="UTC")
    shutil.rmtree(primary.path)  # saves only grow the primary bars: drop the last day by hand
    primary.save(complete[~last_day])
    history = primary.load()
    snapshot = complete[last_day].reset_index(drop=True)
    snapshot.loc[snapshot.index[snapshot["symbol"] == "BTC-USD"][3], "low"] = -1.0
    replay_next(project, snapshot)
    run = kedro_run(project, "--pipelines", "ingestion,validation,features")
    assert run.returncode == 0, run.stderr[-3000:]
    refreshed = primary.load()
    pd.testing.assert_frame_equal(
        refreshed[refreshed["symbol"] == "AAPL"].reset_index(drop=True),
        complete[complete["symbol"] == "AAPL"].reset_index(drop=True),
    )
    pd.testing.assert_frame_equal(
        refreshed[refreshed["symbol"] == "BTC-USD"].reset_index(drop=True),
        history[history["symbol"] == "BTC-USD"].reset_index(drop=True),
    )
    [result_file] = sorted(
        (project / f"data/08_reporting/validation/{ONE_SHARD}/validation_result.json").glob("*/*")
    )[-1:]
    result = json.loads(result_file.read_text())
    assert result["symbol_status"] == {"AAPL": "passed", "BTC-USD": "quarantined"}
    assert result["failed"] == ["low > 0"]
    quarantines = (
        project / f"data/02_intermediate/quarantine/{ONE_SHARD}/quarantined_bars.csv"
    ).glob("*/*")
    held = pd.read_csv(sorted(quarantines)[-1])
    assert set(held["symbol"]) == {"BTC-USD"} and (held["failed_checks"] == "low > 0").all()
    assert len(held) == int(snapshot["symbol"].eq("BTC-USD").sum())
    output = run.stdout + run.stderr
    assert "BTC-USD (quarantined)" in output and "low > 0" in output
    model_input = pd.read_parquet(project / "data/05_model_input/model_input")
    newest = model_input.groupby("symbol")["timestamp"].max()
    assert newest["AAPL"] > history.loc[history["symbol"] == "AAPL", "timestamp"].max()
    assert newest["BTC-USD"] < history["timestamp"].max()


def test_an_earlier_versions_single_file_is_split_into_partitions_and_grown(project):
    primary = refreshed_light_project(project)
    history = primary.load()
    shutil.rmtree(primary.path)  # the layout of an earlier version: one file
    legacy = project / "data/03_primary/bars.parquet"
    history.to_parquet(legacy, index=False)
    run = kedro_run(
        project, "--pipelines", "ingestion,validation", "--params", "simulator_end=2025-06-04 00:00"
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert not legacy.exists()
    grown = primary.load()
    kept = grown[grown["timestamp"] <= history["timestamp"].max()].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, history)
    assert grown["timestamp"].max() == pd.Timestamp("2025-06-04 00:00", tz="UTC")
    assert len(grown) == len(history) + 24 + 7, "one more day: BTC-USD's 24 bars, AAPL's 7"


def test_badly_typed_snapshot_is_judged_by_the_gate_with_a_saved_result(project):
    primary = refreshed_light_project(project)
    before = partition_bytes(primary)
    history = primary.load()
    snapshot = history.groupby("symbol").tail(2).copy()
    snapshot["timestamp"] = (snapshot["timestamp"] + pd.Timedelta(days=7)).dt.tz_localize(None)
    snapshot["volume"] = snapshot["volume"].map(str)
    replay_next(project, snapshot)
    failed = kedro_run(project, "--pipelines", "ingestion,validation")
    assert failed.returncode != 0
    output = failed.stdout + failed.stderr
    assert "DataQualityError" in output and "failed for 2 of 2 symbols" in output
    assert partition_bytes(primary) == before
    results = (project / f"data/08_reporting/validation/{ONE_SHARD}/validation_result.json").glob(
        "*/*"
    )
    result = json.loads(sorted(results)[-1].read_text())
    assert result["symbol_status"] == {"AAPL": "quarantined", "BTC-USD": "quarantined"}
    assert {"timestamp is a timezone-aware datetime", "values are numbers"} <= set(result["failed"])


def test_live_environment_without_key_fails_at_once_naming_the_variable(project, monkeypatch):
    monkeypatch.delenv("ALPHAVANTAGE_API_KEY", raising=False)
    result = kedro_run(project, "--env", "live")
    assert result.returncode != 0
    assert "ALPHAVANTAGE_API_KEY" in result.stdout + result.stderr
    assert not (project / PRIMARY_BARS).exists()


def test_hundreds_of_symbols_fit_in_the_tracked_parameters(project):
    """kedro-mlflow logs each node's parameters: a symbol list beyond MLflow's 6,000 characters
    is truncated in the run, not a failed `kedro run`."""
    import mlflow  # noqa: PLC0415

    symbols = [f"S{i:03d}" for i in range(650)]  # str(list) of 650 symbols: ~5,200 characters
    symbols += [f"C{i:03d}-USD" for i in range(100)]  # ... and these: over 6,000
    (project / "conf/local/parameters.yml").write_text(f"ingestion:\n  symbols: {symbols}\n")
    (project / "conf/local/catalog.yml").write_text(
        "market_source:\n  type: rps_kedro.datasets.SimulatedMarketDataset\n"
        "  seed: 1\n  origin: '2025-05-30'\n  end: '2025-06-01 00:00'\n  backfill_hours: 24\n"
    )
    result = kedro_run(project, "--pipelines", "ingestion")
    assert result.returncode == 0, result.stderr[-3000:]
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    try:
        [run] = mlflow.search_runs(search_all_experiments=True, output_format="list")
    finally:
        mlflow.set_tracking_uri(None)
    logged = run.data.params["ingestion.symbols"]
    assert len(str(symbols)) > 6000 >= len(logged) and logged.startswith("['S000', 'S001'")
