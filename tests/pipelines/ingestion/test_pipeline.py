"""The ingestion pipeline run by Kedro's runner on an in-memory catalog."""

from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from rps_kedro.core.bars import empty_bars
from rps_kedro.pipelines.ingestion import create_pipeline
from tests.conftest import SYMBOLS


def test_pipeline_fetches_and_merges(simulator, simulated_bars):
    catalog = DataCatalog()
    catalog["market_source"] = MemoryDataset(simulator, copy_mode="assign")
    catalog["bars_history"] = empty_bars()
    catalog["params:ingestion.symbols"] = SYMBOLS
    catalog["raw_bars_snapshot"] = MemoryDataset()
    catalog["merged_bars"] = MemoryDataset()
    SequentialRunner().run(create_pipeline(), catalog)
    merged = catalog["merged_bars"].load()
    assert merged.equals(simulated_bars), "first run: the merged history is exactly the backfill"
