"""The benchmarks run and report sane figures at a tiny size (no assertion on time)."""

import json

from tests.benchmarks import bench_ingestion
from tests.benchmarks.harness import write_figures


def test_ingestion_benchmark_reports_rows_and_memory(tmp_path):
    figures = bench_ingestion.run(symbol_count=4, years=1, update_hours=24)
    assert figures["backfill"]["rows"] > 2 * 8000, "two crypto pairs alone give 2 x 8760 rows"
    # 2026-01-01 is a Thursday: 24 new bars per crypto pair, 7 session bars per stock.
    assert figures["incremental_merge"]["new_rows"] == 2 * 24 + 2 * 7
    assert figures["backfill"]["peak_memory_mib"] > 0
    path = write_figures("ingestion", figures, tmp_path)
    assert json.loads(path.read_text())["backfill"]["rows"] == figures["backfill"]["rows"]
