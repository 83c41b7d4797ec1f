"""Ingestion benchmark: simulate and ingest N symbols x Y years, then merge an incremental snapshot."""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pandas as pd
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from kedro_datasets.pandas import ParquetDataset

from benchmarks.harness import measure, write_figures
from rps_kedro.datasets import BarsParquetDataset, SimulatedMarketDataset
from rps_kedro.pipelines.ingestion import create_pipeline


def benchmark_symbols(count: int) -> list[str]:
    """Half stocks, half crypto pairs."""
    return [f"S{i:03d}" for i in range(count // 2)] + [
        f"C{i:03d}-USD" for i in range(count - count // 2)
    ]


def _run_ingestion(
    workdir: Path, source: SimulatedMarketDataset, symbols: list[str]
) -> pd.DataFrame:
    catalog = DataCatalog()
    catalog["market_source"] = MemoryDataset(source, copy_mode="assign")
    catalog["bars_history"] = BarsParquetDataset(str(workdir / "bars"), missing_ok=True)
    catalog["params:ingestion.symbols"] = symbols
    catalog["raw_bars_snapshot"] = ParquetDataset(
        filepath=str(workdir / "snapshot.parquet"), version=None
    )
    catalog["merged_bars"] = BarsParquetDataset(str(workdir / "bars"))
    SequentialRunner().run(create_pipeline(), catalog)
    return catalog["merged_bars"].load()


def run(symbol_count: int = 100, years: int = 2, update_hours: int = 24) -> dict[str, Any]:
    """Full backfill of `years` of hourly bars, then an incremental run of `update_hours`."""
    end = pd.Timestamp("2026-01-01 00:00")
    origin = end - pd.DateOffset(years=years)
    hours = int((end - origin) / pd.Timedelta(hours=1))
    symbols = benchmark_symbols(symbol_count)
    with TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        backfill = SimulatedMarketDataset(
            seed=1, origin=str(origin), end=str(end), backfill_hours=hours
        )
        history, backfill_figures = measure(lambda: _run_ingestion(workdir, backfill, symbols))
        later = SimulatedMarketDataset(
            seed=1,
            origin=str(origin),
            end=str(end + pd.Timedelta(hours=update_hours)),
            backfill_hours=hours,
        )
        merged, update_figures = measure(lambda: _run_ingestion(workdir, later, symbols))
    new_rows = len(merged) - len(history)
    return {
        "symbols": symbol_count,
        "years": years,
        "backfill": {
            **backfill_figures,
            "rows": len(history),
            "rows_per_second": round(len(history) / backfill_figures["wall_seconds"]),
        },
        "incremental_merge": {**update_figures, "history_rows": len(history), "new_rows": new_rows},
    }


def main() -> None:
    """Measure at full size and write the figures."""
    write_figures("ingestion", run())
