"""The benchmarks run and report sane figures at a tiny size (no assertion on time)."""

import json

import pytest
import yaml

from benchmarks import bench_core, bench_data_refresh, bench_ingestion
from benchmarks.harness import write_figures
from tests.conftest import PROJECT_ROOT


def test_ingestion_benchmark_reports_rows_and_memory(tmp_path):
    figures = bench_ingestion.run(symbol_count=4, years=1, update_hours=24)
    assert figures["backfill"]["rows"] > 2 * 8000, "two crypto pairs alone give 2 x 8760 rows"
    # 2026-01-01 is New Year's Day: the exchange is closed, the two crypto pairs add 24 bars each.
    assert figures["incremental_merge"]["new_rows"] == 2 * 24
    assert figures["backfill"]["peak_memory_mib"] > 0
    path = write_figures("ingestion", figures, tmp_path)
    assert json.loads(path.read_text())["backfill"]["rows"] == figures["backfill"]["rows"]


def test_data_refresh_benchmark_reports_each_step(tmp_path):
    # A small profile sample keeps ydata-profiling quick; the node and its parameters are real.
    figures = bench_data_refresh.run(
        symbol_count=4,
        days=70,
        data_profile={"sample_rows": 200, "sample_columns": 6},
        repeats=1,
    )
    bars_rows = figures["bars"]["rows"]
    # Two crypto pairs trade every hour; two stocks only in session hours.
    assert 2 * 70 * 24 < bars_rows < 2 * 70 * 24 + 2 * 70 * 7 + 4
    assert figures["validation"]["rows"] == bars_rows == figures["features"]["rows"]
    # 70 days give the stocks ~350 bars: warming up, not modelled. Each modelled symbol loses its
    # lookback (but the last of it) and its last bar (no target).
    lookback = figures["features"]["required_lookback"]
    assert figures["validation"]["success"]
    assert figures["features"]["modelled_symbols"] == 2
    assert (
        figures["features"]["model_input_rows"]
        == figures["features"]["modelled_rows"] - 2 * lookback
    )
    assert figures["data_profile"]["rows"] == figures["features"]["model_input_rows"]
    for step in ("validation", "features", "data_profile"):
        assert figures[step]["wall_seconds"] > 0
        assert figures[step]["peak_memory_mib"] > 0
        assert figures[step]["traced_wall_seconds"] > 0
        assert figures[step]["wall_seconds_runs"] == [figures[step]["wall_seconds"]]
        assert figures[step]["rows_per_second"] > 0
    hotspots = figures["features"]["hotspots"]
    assert hotspots["project_functions_by_cumulative_time"][0]["function"].startswith("rps_kedro/")
    assert len(hotspots["functions_by_self_time"]) == bench_data_refresh.TOP_FUNCTIONS
    path = write_figures("data_refresh", figures, tmp_path)
    assert json.loads(path.read_text())["features"]["model_input_rows"] > 0


def test_pipeline_benchmark_times_every_stage_of_a_small_market(monkeypatch):
    from benchmarks import bench_pipeline  # noqa: PLC0415

    monkeypatch.setattr(bench_pipeline, "STAGES", ["ingestion"])
    figures = bench_pipeline.run(symbol_count=1, years=1)
    assert figures["bars"] == 8760
    assert set(figures["stages"]) == {"ingestion"}
    assert all(stage["peak_rss_mib"] > 50 for stage in figures["stages"].values())
    nodes = figures["stages"]["ingestion"]["longest_nodes"]
    assert "ingestion.fetch_new_bars" in nodes and all(seconds >= 0 for seconds in nodes.values())


def test_growth_exponent_is_the_log_log_slope():
    from benchmarks.bench_pipeline import growth_exponent  # noqa: PLC0415

    sizes = [100, 300, 1000]
    assert growth_exponent(sizes, [2.0 * n for n in sizes]) == 1.0
    assert growth_exponent(sizes, [n**2 / 7 for n in sizes]) == 2.0
    assert growth_exponent(sizes, [30.0, 30.0, 30.0]) == 0.0


def test_the_cost_curve_runs_each_size_and_fits_the_exponents(monkeypatch):
    from benchmarks import bench_pipeline  # noqa: PLC0415

    monkeypatch.setattr(bench_pipeline, "STAGES", ["ingestion"])
    curve = bench_pipeline.cost_curve(sizes=[2, 4], years=1)
    assert [r["symbols"] for r in curve["runs"]] == [2, 4]
    assert curve["runs"][1]["bars"] > curve["runs"][0]["bars"]
    assert set(curve["exponents"]) == {
        "total_wall_seconds",
        "peak_rss_mib",
        "ingestion.wall_seconds",
    }
    assert set(curve["met"]) == {"wall_seconds", "peak_rss_mib", "wall_exponent"}


def test_forecast_benchmark_reports_served_vs_naive_and_the_weekly_rule(monkeypatch, tmp_path):
    from benchmarks import bench_forecasts  # noqa: PLC0415

    monkeypatch.setattr(
        bench_forecasts, "WEEKLY", {"warmup_fraction": 0.8, "retrain_every_hours": 168}
    )
    bars = bench_forecasts.simulated_bars(["AAPL", "BTC-USD"], 24 * 110)  # AAPL: 500+ bars
    figures = bench_forecasts.evaluate_series("small", bars, simulate=True)
    pooled = figures["training_run"]["pooled"]
    assert pooled["return_rmse"]["challenger"] <= pooled["return_rmse"]["persistence"]
    assert pooled["volatility_qlike"]["challenger"] <= pooled["volatility_qlike"]["har"]
    assert set(figures["training_run"]["by_symbol"]) == {"AAPL", "BTC-USD"}
    # the test window is the same market as training: the model, not the fallback, answers
    assert 0 < figures["training_run"]["test_mean_out_of_range_share"] < 0.1
    assert figures["training_run"]["test_fallback_share"] < 0.05
    weekly = figures["promotion_backtest"]
    assert weekly["retrains"] >= 2 and 1 <= weekly["promotions"] <= weekly["retrains"]
    assert weekly["window"]["rows"] > 0
    table = bench_forecasts.markdown({"series": {"small": figures}})
    assert table.count("\n") == 3 and "| small |" in table


def test_core_benchmark_times_features_and_predictions():
    figures = bench_core.run(symbols=4, years=1, repeats=3, training_hours=24 * 60)
    assert figures["features"]["symbols"] == 4 and figures["features"]["bars"] > 4 * 24 * 200
    assert figures["features"]["wall_seconds"] > 0
    assert 0 < figures["predict_one_p50_ms"] and 0 < figures["predict_batch_64_p50_ms"]
    assert set(figures["met"]) == set(bench_core.GOALS)


@pytest.mark.integration
def test_freshness_benchmark_times_a_new_bar_to_its_forecast_both_ways(tmp_path):
    from benchmarks import bench_freshness  # noqa: PLC0415

    figures = bench_freshness.run(tmp_path, sizes=[4])  # asserts every forecast is of the new bar
    [size] = figures["sizes"]
    kedro, airflow = size["kedro_run"], size["airflow"]
    assert 0 < kedro["pipeline_execution_seconds"] < kedro["latency_seconds"]
    assert kedro["process_and_session_seconds"] > 0
    shards = yaml.safe_load((PROJECT_ROOT / "conf/base/airflow.yml").read_text())["data_refresh"]
    shards = shards["shards"]
    mapped = {f"{task}[{index}]" for task in shards["tasks"] for index in range(shards["count"])}
    assert set(airflow["tasks"]) == mapped | {"live-scoring"}
    assert airflow["forecast_symbols"] + airflow["quarantined_symbols"] == 4
    assert 0 < airflow["latency_seconds"] <= airflow["run_seconds"]
    assert figures["met"] == {}  # no goal at four symbols


@pytest.mark.integration
def test_training_benchmark_times_the_default_run_node_by_node(tmp_path):
    from benchmarks import bench_training  # noqa: PLC0415

    figures = bench_training.run(tmp_path, "--pipelines", "ingestion,validation,features")
    nodes = figures["nodes"]
    assert {"ingestion.fetch_new_bars", "features.build_model_input"} <= set(nodes)
    assert list(nodes.values()) == sorted(nodes.values(), reverse=True)
    assert 0 < figures["nodes_seconds"] < figures["wall_seconds"]


def test_an_hourly_refresh_writes_the_same_over_a_short_and_a_long_history():
    # 240 days hold the whole months the refresh reads (globals.recent_bars: 744 bars, back to
    # December for a stock's session bars): it reads the same months of both histories
    figures = bench_data_refresh.hourly_refresh(symbol_count=4, history_days=(240, 480))
    short, long = figures["runs"]
    assert long["stored_bars"] > 1.9 * short["stored_bars"]
    assert short["new_bars"] == long["new_bars"] == 4, "a Tuesday's session bar for every symbol"
    # the new month's bars and features of each symbol, the snapshot, the gate's result
    assert short["data_files_written"] == long["data_files_written"] <= 4 * 2 + 5
    assert long["data_mib_written"] < 1.1 * short["data_mib_written"]
    assert long["read_mib"] < 1.1 * short["read_mib"]
    for run in figures["runs"]:
        assert run["wall_seconds"] > 0 and run["peak_rss_mib"] >= run["start_rss_mib"] > 0
