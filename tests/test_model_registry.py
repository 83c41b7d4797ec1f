"""End to end with the embedded registry: champion/challenger aliases, the pyfunc model, secrets."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from rps_kedro.core.bars import as_model_input
from rps_kedro.core.model_names import REGISTERED_MODEL_NAME
from tests.conftest import kedro_run, write_light_parameters

pytestmark = pytest.mark.integration

END = "simulator_end=2025-06-01 00:00"
# HAR without its day and week components (windows of 1 and 2 bars): a weaker volatility model.
MEDIOCRE = ",".join(
    f"features.har_windows.{market}.{span}={bars}"
    for market in ("crypto", "stock")
    for span, bars in (("day", 1), ("week", 2))
)
# Demands a 1% lower return RMSE than the champion: the same model cannot pass.
DEMANDING = "modelling.promotion.tolerance_vs_champion.return=-0.01"
SECRETS = ("SECRET-CREDENTIALS-FILE-KEY-42", "SECRET-ENVIRONMENT-KEY-42")


@pytest.fixture(scope="module")
def registry_project(tmp_path_factory):
    """A project copy run four times: a mediocre first model, a better one, the same again in
    the CI gate (champion not moved), and one refused by a demanding promotion rule."""
    from tests.conftest import copy_project  # noqa: PLC0415

    project = copy_project(tmp_path_factory.mktemp("registry") / "project")
    write_light_parameters(project)
    (project / "conf/local/credentials.yml").write_text(
        f"alpha_vantage:\n  api_key: {SECRETS[0]}\n"
    )
    runs = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ALPHAVANTAGE_API_KEY", SECRETS[1])
        for name, extra, pipeline in (
            ("mediocre", MEDIOCRE, "__default__"),
            ("better", "", "__default__"),
            ("gated", "modelling.promotion.move_champion=false", "modelling"),
            ("demanding", DEMANDING, "modelling"),
        ):
            params = ",".join(part for part in (END, extra) if part)
            runs[name] = kedro_run(project, "--pipelines", pipeline, "--params", params)
            assert runs[name].returncode == 0, runs[name].stderr[-4000:]
            decision = project / "data/08_reporting/model_promotion.json"
            shutil.copy(decision, project / f"data/08_reporting/model_promotion_{name}.json")
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    yield project, runs
    mlflow.set_tracking_uri(None)


def _aliases() -> dict[str, int]:
    model = MlflowClient().get_registered_model(REGISTERED_MODEL_NAME)
    return {alias: int(version) for alias, version in model.aliases.items()}


def _decision(project, run: str) -> dict:
    return json.loads((project / f"data/08_reporting/model_promotion_{run}.json").read_text())


def test_champion_moves_only_to_a_model_not_worse_on_any_target(registry_project):
    project, _ = registry_project
    versions = MlflowClient().search_model_versions("name='rps_kedro'")
    assert sorted(int(v.version) for v in versions) == [1, 2, 3, 4]
    tags = {int(v.version): v.tags.get("promotion", "") for v in versions}
    assert tags[1].startswith("every target is not worse") and "no champion yet" in tags[1]
    assert "champion version 1" in tags[2] and tags[2].startswith("every target")
    assert tags[3].startswith("every target"), "as good, but the CI gate must not move champion"
    assert tags[4].startswith("failed (champion version 2)")
    assert _aliases() == {"champion": 2, "challenger": 4}
    mediocre, better = _decision(project, "mediocre"), _decision(project, "better")
    assert (
        better["scores"]["challenger"]["volatility"]["qlike"]
        < better["scores"]["champion"]["volatility"]["qlike"]
    ), "the full HAR beats the champion that lacked its day and week components"
    for decision in (mediocre, better):
        scores = decision["scores"]
        assert scores["challenger"]["return"]["rmse"] <= scores["persistence"]["return"]["rmse"]
        assert scores["challenger"]["volatility"]["qlike"] <= scores["har"]["volatility"]["qlike"]
    assert _decision(project, "demanding")["failed"] == ["return: rmse not worse than champion"]
    report = (project / "data/08_reporting/model_comparison.md").read_text()
    assert "NOT promoted" in report and "## What is served, and why" in report
    assert "champion (version 2)" in report


def test_registered_versions_carry_a_model_card_and_their_training_data(registry_project):
    client = MlflowClient()
    version = client.get_model_version_by_alias(REGISTERED_MODEL_NAME, "champion")
    run = client.get_run(version.run_id)
    name = run.info.run_name  # says what ran, on which bars
    assert run.data.params["modelling.backtest.folds"] == "2"  # one parameter per leaf
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert name.startswith("default · bars 2024-") and name.endswith(" → 2025-05-31 23:00 UTC")
    card = version.description
    assert card.startswith("# rps_kedro model card")
    assert "## What is served" in card and "## Known limits" in card
    assert "| AAPL |" in card and "| BTC-USD |" in card
    inputs = client.get_run(version.run_id).inputs.dataset_inputs
    assert {item.dataset.name for item in inputs} == {"model_input.training", "model_input.testing"}
    assert all(item.dataset.profile for item in inputs), "row counts are recorded"


def test_champion_pyfunc_predicts_from_raw_bars_like_training(registry_project):
    project, _ = registry_project
    model = mlflow.pyfunc.load_model(f"models:/{REGISTERED_MODEL_NAME}@champion")
    bars = pd.read_parquet(project / "data/03_primary/bars")
    predictions = model.predict(as_model_input(bars))
    training = pd.read_parquet(project / "data/07_model_output/test_predictions.parquet")
    served = _decision(project, "demanding")["served"]  # same data and models as the champion
    joined = training.merge(predictions, on=["symbol", "timestamp"])
    assert len(joined) == len(training)
    for target, column in (
        ("return", "predicted_log_return"),
        ("volatility", "predicted_volatility"),
    ):
        np.testing.assert_allclose(
            joined[f"{served[target]['model']}.{column}"], joined[column], rtol=1e-6
        )
    assert {"predicted_close", "prediction_for", "out_of_range_share"} <= set(predictions.columns)


def test_model_carries_signature_example_and_drift_reference(registry_project):
    info = mlflow.models.get_model_info(f"models:/{REGISTERED_MODEL_NAME}@champion")
    assert [column.name for column in info.signature.inputs] == [
        "symbol",
        "timestamp",
        "open",
        "high",
        "low",
        "close",
        "volume",
    ]
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{REGISTERED_MODEL_NAME}@champion"))
    files = {path.name for path in local.rglob("*")}
    assert "forecast_model.pkl" in files, "the model bundle (core/model.py)"
    assert any(name.startswith("input_example") for name in files)


def test_no_secret_reaches_mlflow_params_tags_or_artifacts(registry_project):
    project, runs = registry_project
    client = MlflowClient()
    experiment = client.get_experiment_by_name("rps_kedro")
    found = []
    for run in client.search_runs([experiment.experiment_id]):
        texts = [
            *run.data.params.keys(),
            *map(str, run.data.params.values()),
            *map(str, run.data.tags.values()),
        ]
        found += [secret for secret in SECRETS for text in texts if secret in text]
    for path in (project / "mlruns").rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            found += [f"{secret} in {path}" for secret in SECRETS if secret.encode() in content]
    for result in runs.values():
        found += [secret for secret in SECRETS if secret in result.stdout + result.stderr]
    assert found == []
    assert client.search_runs([experiment.experiment_id])[0].data.params, (
        "params were logged at all"
    )


@pytest.mark.parametrize(
    ("run", "exit_code"), [("demanding", 1), ("gated", 0), ("better", 0), ("mediocre", 0)]
)
def test_gate_command_fails_on_the_worse_model_and_passes_on_the_better(
    registry_project, run, exit_code
):
    project, _ = registry_project
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rps_kedro.gate",
            "--decision",
            f"data/08_reporting/model_promotion_{run}.json",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == exit_code, result.stdout
    assert ("model gate: FAIL" if exit_code else "model gate: PASS") in result.stdout
    assert "# Model comparison" in result.stdout


def test_runs_log_metrics_plots_and_reports(registry_project):
    client = MlflowClient()
    version = client.get_model_version_by_alias(REGISTERED_MODEL_NAME, "champion")
    run = client.get_run(version.run_id)
    metrics = {
        name.removeprefix("modelling_metrics."): value for name, value in run.data.metrics.items()
    }
    assert metrics["promoted"] == 1.0
    assert "test.served.return.skill_vs_persistence" in metrics
    assert "test.served.volatility.dm_p_vs_har" in metrics
    assert "test.BTC-USD.served.volatility.qlike" in metrics
    assert "backtest.har.volatility.qlike" in metrics
    logged = {
        f"{folder}/{Path(item.path).name}"
        for folder in ("reports", "plots")
        for item in client.list_artifacts(run.info.run_id, folder)
    }
    assert {
        "reports/model_comparison.md",
        "reports/model_promotion.json",
        "reports/validation_report_latest.html",
        "reports/data_checks_report.json",
        "reports/backtest_report.json",
        "plots/test_predictions.png",
        "plots/residuals.png",
        "plots/feature_importance.png",
        "plots/return_comparison.png",
        "plots/volatility_comparison.png",
        "reports/model_card.md",
    } <= logged
    full_run = client.get_model_version(
        REGISTERED_MODEL_NAME, "2"
    ).run_id  # ran the whole default pipeline
    assert "reports/model_input_profile.html" in {
        item.path for item in client.list_artifacts(full_run, "reports")
    }
