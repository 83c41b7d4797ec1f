"""`make bench`: run every benchmark at full size; figures go to data/08_reporting/benchmarks/."""

from benchmarks import (
    bench_core,
    bench_data_refresh,
    bench_forecasts,
    bench_freshness,
    bench_ingestion,
    bench_pipeline,
    bench_serving,
    bench_training,
)

BENCHMARKS = [
    bench_ingestion,
    bench_data_refresh,
    bench_pipeline,
    bench_training,
    bench_core,
    bench_serving,
    bench_forecasts,
    bench_freshness,
]

if __name__ == "__main__":
    for benchmark in BENCHMARKS:
        benchmark.main()
        print(f"{benchmark.__name__}: done")  # noqa: T201
