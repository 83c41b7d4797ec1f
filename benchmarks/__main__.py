"""`make bench`: run every benchmark at full size; figures go to data/08_reporting/benchmarks/.
`python -m benchmarks pipeline freshness` (or `make bench BENCHMARKS="pipeline freshness"`) runs
only those."""

import sys

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
BY_NAME = {
    benchmark.__name__.removeprefix("benchmarks.bench_"): benchmark for benchmark in BENCHMARKS
}

if __name__ == "__main__":
    unknown = sorted(set(sys.argv[1:]) - set(BY_NAME))
    if unknown:
        sys.exit(f"unknown benchmark {', '.join(unknown)}; choose among {', '.join(BY_NAME)}")
    for benchmark in [BY_NAME[name] for name in sys.argv[1:]] or BENCHMARKS:
        benchmark.main()
        print(f"{benchmark.__name__}: done")  # noqa: T201
