"""The serving benchmark runs at a tiny size and reports sane figures (no assertion on speed)."""

from __future__ import annotations

import json
import time

import pytest

from benchmarks import bench_serving
from benchmarks.harness import write_figures
from tests.serving.support import session_model

# The BentoML target is `bentoml serve` as tests/serving runs it; here the two others.
TARGETS = ("fastapi", "in_process")


def test_the_closed_loop_counts_requests_latencies_and_errors():
    sent: list[list[bool]] = []

    def make():
        answers: list[bool] = []
        sent.append(answers)

        def send():
            time.sleep(0.002)
            answers.append(len(answers) % 10 != 9)  # every tenth request of a client fails
            return answers[-1]

        return send

    figures = bench_serving.closed_loop(make, concurrency=3, duration=0.3)
    assert len(sent) == 3
    assert figures["requests"] == sum(len(answers) for answers in sent) > 0
    assert figures["errors"] == sum(answers.count(False) for answers in sent)
    assert 2 <= figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"] <= figures["max_ms"]


@pytest.mark.integration
def test_serving_benchmark_measures_every_target(tmp_path_factory, tmp_path):
    model = session_model(tmp_path_factory.mktemp("serving-bench"))  # shared with tests/serving
    figures = bench_serving.run(
        model, concurrencies=(1, 2), duration=1.0, warm_up=0.3, targets=TARGETS
    )
    for target in TARGETS:
        for concurrency in ("1", "2"):
            result = figures[target][concurrency]
            assert result["requests"] > 0 and result["errors"] == 0, (target, result)
            assert result["p50_ms"] <= result["p99_ms"]
    assert {"feature_matrix", "predict_rows", "log_prediction"} <= set(figures["profile_ms"])
    assert figures["load_generator"].startswith("wrk")  # .ci/run installs it
    met = bench_serving.goals_met(figures)
    assert met["concurrency_32"] is None and met["bentoml_vs_fastapi"] is None  # not measured
    assert "| fastapi | 2 |" in bench_serving.table(figures)
    path = write_figures("serving", figures, tmp_path)
    assert json.loads(path.read_text())["in_process"]["1"]["requests"] > 0


@pytest.mark.integration
def test_the_bento_is_built_sized_and_started(tmp_path_factory, tmp_path):
    model = session_model(tmp_path_factory.mktemp("serving-bench"))  # shared with tests/serving
    figures = bench_serving.bento_figures(model, tmp_path, starts=1)
    size = figures["size"]
    assert 0 < size["bento_src_mib"] < size["bento_mib"] and size["model_mib"] > 0
    assert figures["cold_start_seconds"][0] == figures["cold_start_median_seconds"] > 0
