"""End to end: `kedro run` on a temporary copy of the project, twice, incrementally."""

import json

import pandas as pd
import pytest

from rps_kedro.core.bars import BAR_COLUMNS
from tests.conftest import kedro_run

pytestmark = pytest.mark.integration


def _snapshots(project):
    return sorted((project / "data/01_raw/bars_snapshot.parquet").glob("*/bars_snapshot.parquet"))


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
    history = pd.read_parquet(project / "data/03_primary/bars.parquet")
    assert len(history) == len(bars)

    second = kedro_run(
        project, "--pipelines", "ingestion,validation", "--params", "simulator_end=2025-06-02 00:00"
    )
    assert second.returncode == 0, second.stderr[-3000:]
    assert len(_snapshots(project)) == 2
    update = pd.read_parquet(_snapshots(project)[-1])
    assert set(update["symbol"]) == {"BTC-USD", "ETH-USD"}, "Sunday: only crypto traded"
    assert update.groupby("symbol").size().tolist() == [24, 24]
    merged = pd.read_parquet(project / "data/03_primary/bars.parquet")
    assert len(merged) == len(history) + 48
    assert not merged.duplicated(["symbol", "timestamp"]).any()


def test_corrupted_snapshot_stops_the_run_and_loses_nothing(project):
    clean = kedro_run(
        project, "--pipelines", "ingestion,validation", "--params", "simulator_end=2025-06-01 00:00"
    )
    assert clean.returncode == 0, clean.stderr[-3000:]
    primary = project / "data/03_primary/bars.parquet"
    before = primary.read_bytes()
    history = pd.read_parquet(primary)
    corrupted = history[history["symbol"] == "BTC-USD"].tail(3).copy()
    corrupted["timestamp"] += pd.Timedelta(hours=3)
    corrupted.iloc[1, corrupted.columns.get_loc("low")] = -1.0
    corrupted.to_parquet(project / "data/01_raw/corrupted.parquet")
    (project / "conf/local/catalog.yml").write_text(
        "market_source:\n"
        "  type: rps_kedro.datasets.ReplayMarketDataset\n"
        "  filepath: data/01_raw/corrupted.parquet\n"
    )
    failed = kedro_run(project, "--pipelines", "ingestion,validation")
    assert failed.returncode != 0
    output = failed.stdout + failed.stderr
    assert "DataQualityError" in output and "low > 0" in output
    assert primary.read_bytes() == before, "the last good primary bars are untouched"
    results = sorted(
        (project / "data/08_reporting/validation/validation_result.json").glob("*/*.json")
    )
    assert len(results) == 2, "the failed run's result is saved too"
    assert json.loads(results[-1].read_text())["failed"] == ["low > 0"]
    assert len(_snapshots(project)) == 2, "the raw snapshot of the failed run is kept"


def test_live_environment_without_key_fails_at_once_naming_the_variable(project, monkeypatch):
    monkeypatch.delenv("ALPHAVANTAGE_API_KEY", raising=False)
    result = kedro_run(project, "--env", "live")
    assert result.returncode != 0
    assert "ALPHAVANTAGE_API_KEY" in result.stdout + result.stderr
    assert not (project / "data/03_primary/bars.parquet").exists()
