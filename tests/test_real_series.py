"""Forecast honesty on real markets (../shared/data/real, skipped when absent): on each real
series the served forecaster is never worse than persistence (return RMSE) or HAR (volatility
QLIKE) on its test window, and a full `kedro run` replaying a real stock registers a champion
that says so in its report."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from rps_kedro.core.bars import conform_bars
from rps_kedro.pipelines.features.nodes import build_model_input
from rps_kedro.pipelines.training.online import retrain
from tests.conftest import PROJECT_ROOT, kedro_run, project_parameters

REAL_DATA = PROJECT_ROOT.parent / "shared/data/real"
SERIES = sorted(REAL_DATA.glob("*_1h.parquet")) if REAL_DATA.is_dir() else []

pytestmark = pytest.mark.skipif(
    not SERIES, reason=f"no real series in {REAL_DATA} (development data, not in the repo)"
)


@pytest.mark.parametrize("path", SERIES, ids=lambda path: path.stem)
def test_the_served_forecast_never_loses_to_the_naive_ones_on_a_real_series(path):
    parameters = project_parameters()
    bars = conform_bars(pd.read_parquet(path))
    model_input = build_model_input(bars, parameters["features"])
    _, decision, _ = retrain(model_input, None, 0, parameters["modelling"], parameters["features"])
    scores = decision["scores"]
    assert scores["challenger"]["return"]["rmse"] <= scores["persistence"]["return"]["rmse"]
    assert scores["challenger"]["volatility"]["qlike"] <= scores["har"]["volatility"]["qlike"]
    assert decision["promote"], decision["reason"]
    assert decision["window"]["rows"] > 0.1 * len(bars)


@pytest.mark.integration
def test_kedro_run_on_a_real_stock_registers_an_honest_champion(project):
    path = REAL_DATA / "IBM_1h.parquet"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    (project / "conf/local/catalog.yml").write_text(
        f"market_source:\n  type: rps_kedro.datasets.ReplayMarketDataset\n  filepath: {path}\n"
    )
    (project / "conf/local/parameters.yml").write_text(
        "ingestion:\n  symbols: [IBM]\ndata_profile:\n  enabled: false\n"
    )
    result = kedro_run(project)
    assert result.returncode == 0, result.stderr[-4000:]
    reports = project / "data/08_reporting"
    decision = json.loads((reports / "model_promotion.json").read_text())
    assert decision["promote"], decision["reason"]
    scores = decision["scores"]
    assert scores["challenger"]["return"]["rmse"] <= scores["persistence"]["return"]["rmse"]
    assert scores["challenger"]["volatility"]["qlike"] <= scores["har"]["volatility"]["qlike"]
    report = (reports / "model_comparison.md").read_text()
    assert "## What is served, and why" in report and "### IBM" in report
    card = Path(reports / "model_card.md").read_text()
    assert "| IBM |" in card
