"""`make results`: the README's results section from small figure files written here."""

import json
import os

import pytest

from tools.readme_results import END, START, headline_path, main

SERIES = {
    "training_run": {
        "served": {"return": "persistence", "volatility": "gradient_boosting"},
        "pooled": {
            "return_skill_vs_persistence": 0.0,
            "return_dm_p_vs_persistence": 0.5,
            "volatility_qlike_skill_vs_har": 0.0837,
            "volatility_dm_p_vs_har": 7.8e-08,
        },
    }
}
FORECASTS = {
    "benchmark": "forecasts",
    "measured_at": "2026-11-30T04:38:37Z",
    "machine": {"cpus": 2},
    "series": {"simulator": SERIES, "IBM_1h": SERIES},
}
SERVING = {
    "benchmark": "serving",
    "measured_at": "2026-11-30T09:53:43Z",
    "bentoml": {
        "1": {"requests_per_second": 113.2, "p50_ms": 8.44, "p99_ms": 17.62, "errors": 0},
        "32": {"requests_per_second": 415.0, "p50_ms": 71.66, "p99_ms": 151.23, "errors": 0},
    },
    "bento": {"cold_start_median_seconds": 17.204},
}
HEADLINE = {
    "return": {"served_rmse": 0.00698, "persistence_rmse": 0.00698, "skill_vs_persistence": 0.0},
    "volatility": {"served_qlike": 0.6226, "har_qlike": 0.6794, "skill_vs_har": 0.0837},
    "promoted": True,
}
TRAINING = {
    "measured_at": "2026-11-30T18:32:32Z",
    "wall_seconds": 41.7,
    "nodes_seconds": 24.7,
    "nodes": {"features.profile_model_input": 9.3, "training.walk_forward_backtest": 6.5},
    "goal_seconds": 180,
}
STAGES = {"ingestion": {"wall_seconds": 26.4, "peak_rss_mib": 1368.1}}
PIPELINE = {
    "measured_at": "2026-11-30T20:00:00Z",
    "cost_curve": {
        "runs": [
            {
                "symbols": 100,
                "bars": 1052000,
                "total_wall_seconds": 300.5,
                "peak_rss_mib": 2000.0,
                "stages": STAGES,
            },
            {
                "symbols": 1000,
                "bars": 10520000,
                "total_wall_seconds": 850.0,
                "peak_rss_mib": 5000.0,
                "stages": STAGES,
            },
        ],
        "exponents": {"total_wall_seconds": 0.452, "peak_rss_mib": 0.398},
        "goals": {"wall_seconds": 900, "peak_rss_mib": 8192, "wall_exponent": 1.0},
        "met": {"wall_seconds": True, "peak_rss_mib": True, "wall_exponent": True},
    },
}
BEFORE = "# project\n\nintro\r\n\n## Results\n\n"
AFTER = "\n\n## Next\n\ntrailing text, no final newline"


@pytest.fixture
def readme(tmp_path):
    """A README with stale content between the markers, figure files beside it (no freshness)."""
    benchmarks = tmp_path / "data/08_reporting/benchmarks"
    benchmarks.mkdir(parents=True)
    (benchmarks / "forecasts.json").write_text(json.dumps(FORECASTS))
    (benchmarks / "serving.json").write_text(json.dumps(SERVING))
    (benchmarks / "training.json").write_text(json.dumps(TRAINING))
    (benchmarks / "pipeline.json").write_text(json.dumps(PIPELINE))
    headline = tmp_path / "data/08_reporting/headline_metrics.json"
    headline.write_text(json.dumps(HEADLINE))
    os.utime(headline, (1_796_122_400, 1_796_122_400))  # 2026-12-01 10:53 UTC
    path = tmp_path / "README.md"
    path.write_bytes(f"{BEFORE}{START}\nstale figures\n{END}{AFTER}".encode())
    return path


def regenerate(readme) -> str:
    """Run the command on the test README and its figure files; the README's text."""
    root = readme.parent
    main(
        [
            f"--readme={readme}",
            f"--benchmarks={root / 'data/08_reporting/benchmarks'}",
            f"--headline={root / 'data/08_reporting/headline_metrics.json'}",
        ]
    )
    return readme.read_bytes().decode()


def test_the_section_is_rewritten_from_the_files_and_nothing_else_changes(readme):
    text = regenerate(readme)
    assert text.startswith(BEFORE + START) and text.endswith(END + AFTER)
    section = text[len(BEFORE) : -len(AFTER)]
    assert "stale figures" not in section
    assert "figures as of 2026-12-01 10:53 UTC" in section  # the newest file, not the clock
    forecasts = "From `data/08_reporting/benchmarks/forecasts.json`, measured 2026-11-30 04:38 UTC"
    assert f"{forecasts} on 2 CPUs." in section
    assert "| simulator | SIMULATED | persistence / gradient_boosting | +0.0 % (0.5)" in section
    assert "| IBM_1h | real |" in section and "+8.4 % (7.8e-08) |" in section
    assert "| 32 | 415.0 | 71.66 | 151.23 | 0 |" in section
    assert "17.204 s" in section
    assert "| volatility | qlike 0.6226 | har qlike 0.6794 | +8.4 % |" in section
    assert "Promoted: yes." in section
    assert "The default run (5 symbols x 6 months): 41.7 s (goal 180 s)" in section
    assert "| `features.profile_model_input` | 9.3 |" in section
    assert "| symbols | bars | total s | peak RSS MiB | ingestion s |" in section
    assert "| 1000 | 10,520,000 | 850.0 | 5000.0 | 26.4 |" in section
    assert "time 0.452, peak memory 0.398" in section
    assert "met: wall_seconds yes, peak_rss_mib yes, wall_exponent yes." in section


def test_a_missing_figure_file_names_its_command_and_no_figure(readme):
    section = regenerate(readme)
    missing = "Not measured yet: `python -m benchmarks.bench_freshness` writes"
    assert f"{missing} `data/08_reporting/benchmarks/freshness.json`." in section
    assert "through Airflow" not in section


def test_regenerating_is_idempotent(readme):
    first = regenerate(readme)
    assert regenerate(readme) == first


def test_a_readme_without_markers_is_refused(readme):
    readme.write_text("# no results section\n")
    with pytest.raises(ValueError, match="markers"):
        regenerate(readme)
    assert readme.read_text() == "# no results section\n"


def test_the_headline_file_is_the_catalogs():
    assert headline_path().parts[-3:] == ("data", "08_reporting", "headline_metrics.json")
