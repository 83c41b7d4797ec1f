"""Readable outputs of a modelling run: the comparison report, plots and the MLflow metrics."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance

from rps_kedro.core.figures import subplots
from rps_kedro.core.forecasters import BASELINES, TARGETS, Forecaster, LearnedTarget
from rps_kedro.data_source import data_source, titled
from rps_kedro.pipelines.training.metrics import skill

if TYPE_CHECKING:
    from matplotlib.figure import Figure

RETURN_COLUMNS = {
    "RMSE": ("metrics", "rmse"),
    "skill vs persistence": ("metrics", "skill_vs_persistence"),
    "direction hit rate": ("metrics", "directional_accuracy"),
    "majority direction": ("metrics", "majority_direction_share"),
    "DM p vs persistence": ("dm", "persistence"),
}
VOLATILITY_COLUMNS = {
    "QLIKE": ("metrics", "qlike"),
    "QLIKE w/o zero-range": ("metrics", "qlike_without_zero_range"),
    "zero-range share": ("metrics", "zero_range_share"),
    "RMSE": ("metrics", "rmse"),
    "DM p vs HAR": ("dm", "har"),
    "DM p vs persistence": ("dm", "persistence"),
}
TABLE_COLUMNS = {"return": RETURN_COLUMNS, "volatility": VOLATILITY_COLUMNS}


def _cell(value: float | None) -> str:
    return (
        "n/a"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{value:.4g}"
    )


def _value(comparison: dict[str, Any], model: str, target: str, source: tuple[str, str]) -> Any:
    kind, key = source
    if kind == "metrics":
        return comparison["metrics"][model][target][key]
    test = comparison["diebold_mariano"][model][target].get(key)
    return None if test is None else test["p_value"]


def comparison_table(comparison: dict[str, Any], target: str, rows: dict[str, str]) -> str:
    """A Markdown table for one target: one row per model (label -> model name)."""
    columns = TABLE_COLUMNS[target]
    lines = ["| model | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for label, model in rows.items():
        cells = [_cell(_value(comparison, model, target, source)) for source in columns.values()]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _served_rows(served: dict[str, Any], target: str, others: list[str]) -> dict[str, str]:
    name = served[target]["model"]
    return {f"**served: {name}**": name} | {model: model for model in others if model != name}


def _served_section(decision: dict[str, Any]) -> str:
    lines = ["| target | served | why |", "|---|---|---|"]
    for target, choice in decision["served"].items():
        lines.append(f"| {target} | {choice['model']} | {choice['reason']} |")
    return "\n".join(lines)


def _symbol_sections(decision: dict[str, Any], test_report: dict[str, Any]) -> str:
    parts = []
    for symbol, comparison in test_report["by_symbol"].items():
        window = comparison["window"]
        parts.append(
            f"### {symbol} ({window['start']} to {window['end']}, {window['rows']} rows)\n\n"
            + "\n\n".join(
                comparison_table(
                    comparison, target, _served_rows(decision["served"], target, list(BASELINES))
                )
                for target in TARGETS
            )
        )
    return "\n\n".join(parts)


def _selection_table(selection: dict[str, Any], backtest: dict[str, Any]) -> str:
    lines = [
        "| model | backtest RMSE | tuning RMSE | backtest QLIKE | tuning QLIKE |",
        "|---|---|---|---|---|",
    ]
    for model, scores in selection["tuning"].items():
        mean = backtest["mean"][model]
        lines.append(
            f"| {model} | {_cell(mean['return.rmse'])} | {_cell(scores['return']['rmse'])}"
            f" | {_cell(mean['volatility.qlike'])} | {_cell(scores['volatility']['qlike'])} |"
        )
    return "\n".join(lines)


def model_comparison_markdown(
    decision: dict[str, Any],
    test_report: dict[str, Any],
    selection: dict[str, Any],
    backtest: dict[str, Any],
) -> str:
    """The user's question first: per target and symbol, served model vs persistence vs HAR
    (and the champion) on the test window, what is served and why, then the decision."""
    verdict = "PROMOTED to champion" if decision["promote"] else "NOT promoted"
    window = decision["window"]
    pooled_rows = {"challenger (as served)": "challenger", **{b: b for b in BASELINES}}
    if decision["champion_version"] is not None:
        pooled_rows[f"champion (version {decision['champion_version']})"] = "champion"
    pooled = {"metrics": decision["scores"], "diebold_mariano": decision["diebold_mariano"]}
    checks = "\n".join(
        f"- [{'x' if ok else ' '}] {target}: {name}"
        for target, named in decision["checks"].items()
        for name, ok in named.items()
    )
    clipped = test_report["pooled"]["clipped"]
    return f"""# Model comparison: challenger {verdict}

**Decision:** {decision["reason"]}.

Test window (each symbol's latest rows, never trained on): {window["start"]} to {window["end"]},
{window["rows"]} rows. Return: RMSE of the next-hour log return (persistence = "no change").
Volatility: QLIKE on variances with a symbol-scaled floor (HAR is the bar to clear); lower is
better. DM p: one-sided Diebold-Mariano p-value that the model's loss is lower than the rival's.
Direction hit rate is on bars where forecast and outcome moved; "majority direction" is what
always calling the more frequent direction scores there.

## What is served, and why

{_served_section(decision)}

## Served vs baselines, all symbols

{comparison_table(pooled, "return", pooled_rows)}

{comparison_table(pooled, "volatility", pooled_rows)}

## Per symbol

{_symbol_sections(decision, test_report)}

## Every fitted candidate on the test window

{comparison_table(test_report["pooled"], "return", {m: m for m in test_report["pooled"]["metrics"]})}

{comparison_table(test_report["pooled"], "volatility", {m: m for m in test_report["pooled"]["metrics"]})}

Forecasts clipped to the training range: {clipped}.

## Selection (backtest mean over folds, tuning)

{_selection_table(selection, backtest)}

## Promotion checks

{checks}
"""


KNOWN_LIMITS = """- Hourly returns are close to a random walk: a return skill of a fraction of a percent over
  persistence is the most to expect; the DM p-value says whether it is more than noise.
- The volatility target is the next bar's Garman-Klass estimate, a noisy proxy: even a perfect
  forecast scores a QLIKE well above 0, so compare with HAR, not with 0.
- Learned forecasts are clipped to the training range of each target; a market regime outside
  it is forecast at the edge of that range (the clip counts are reported and served as a metric).
- Stock sessions follow the configured exchange clock; holidays and early closes are not modelled.
"""


def _training_windows(train: pd.DataFrame, tuning: pd.DataFrame) -> str:
    history = pd.concat([train, tuning], ignore_index=True)
    spans = history.groupby("symbol")["timestamp"].agg(["min", "max", "size"])
    return "\n".join(
        f"| {symbol} | {row['min']} | {row['max']} | {row['size']} |"
        for symbol, row in spans.iterrows()
    )


def model_card(
    decision: dict[str, Any],
    test_report: dict[str, Any],
    train: pd.DataFrame,
    tuning: pd.DataFrame,
) -> str:
    """The registered version's description: data, what is served per target, test skill vs the
    baselines (pooled and per symbol) and known limits."""
    served = decision["served"]
    per_symbol = ["| symbol | target | served | served | persistence | HAR | DM p vs reference |"]
    per_symbol.append("|---|---|---|---|---|---|---|")
    for symbol, comparison in test_report["by_symbol"].items():
        for target, metric in decision["criteria"].items():
            model = served[target]["model"]
            scores = comparison["metrics"]
            reference = decision["reference_baseline"][target]
            dm = comparison["diebold_mariano"][model][target].get(reference)
            per_symbol.append(
                f"| {symbol} | {target} {metric} | {model} | {_cell(scores[model][target][metric])}"
                f" | {_cell(scores['persistence'][target][metric])}"
                f" | {_cell(scores['har'][target][metric])}"
                f" | {_cell(None if dm is None else dm['p_value'])} |"
            )
    pooled = {"metrics": decision["scores"], "diebold_mariano": decision["diebold_mariano"]}
    rows = {"served": "challenger", **{name: name for name in BASELINES}}
    return f"""# rps_kedro model card

Next-hour forecasts per symbol: log return (gives the close) and Garman-Klass volatility.
Promotion: {"PROMOTED" if decision["promote"] else "NOT promoted"}: {decision["reason"]}.

## What is served

{_served_section(decision)}

## Training data (train + tuning, per symbol)

| symbol | first bar | last bar | rows |
|---|---|---|---|
{_training_windows(train, tuning)}

## Test window: {decision["window"]["start"]} to {decision["window"]["end"]}, {decision["window"]["rows"]} rows

{comparison_table(pooled, "return", rows)}

{comparison_table(pooled, "volatility", rows)}

{chr(10).join(per_symbol)}

## Known limits

{KNOWN_LIMITS}"""


def target_figure(decision: dict[str, Any], test_report: dict[str, Any], target: str) -> Figure:
    """The target's decisive metric for the served model and the baselines, pooled and per symbol."""
    metric = decision["criteria"][target]
    served = decision["served"][target]["model"]
    groups = {"all symbols": decision["scores"] | {served: decision["scores"]["challenger"]}} | {
        symbol: comparison["metrics"] for symbol, comparison in test_report["by_symbol"].items()
    }
    models = list(dict.fromkeys([served, *BASELINES]))
    figure, axis = subplots(figsize=(max(6, 2 * len(groups)), 4))
    width = 0.8 / len(models)
    for offset, model in enumerate(models):
        values = [scores[model][target][metric] for scores in groups.values()]
        label = f"served: {model}" if model == served else model
        axis.bar(np.arange(len(groups)) + offset * width, values, width, label=label)
    axis.set_xticks(np.arange(len(groups)) + width * (len(models) - 1) / 2, list(groups))
    axis.set_title(f"{target}: {metric} on the test window (lower is better)")
    axis.legend()
    figure.tight_layout()
    return figure


def return_figure(decision: dict[str, Any], test_report: dict[str, Any]) -> Figure:
    """The return RMSE plot."""
    return target_figure(decision, test_report, "return")


def volatility_figure(decision: dict[str, Any], test_report: dict[str, Any]) -> Figure:
    """The volatility QLIKE plot."""
    return target_figure(decision, test_report, "volatility")


def predictions_figure(
    test_predictions: pd.DataFrame, test: pd.DataFrame, forecaster: Forecaster, market_source: Any
) -> Figure:
    """Served vs actual next close and volatility (with HAR) on the test window, first symbol;
    the title says where the prices come from."""
    symbol = test["symbol"].iloc[0]
    rows = test["symbol"] == symbol
    actual = test.loc[rows]
    predicted = test_predictions.loc[rows]
    served = forecaster.served
    figure, (top, bottom) = subplots(2, 1, figsize=(11, 6), sharex=True)
    top.plot(
        actual["timestamp"],
        actual["close"] * np.exp(actual["target_log_return"]),
        label="actual next close",
    )
    top.plot(
        actual["timestamp"],
        actual["close"] * np.exp(predicted[f"{served['return']}.predicted_log_return"]),
        label=f"served ({served['return']})",
        alpha=0.7,
    )
    bottom.plot(
        actual["timestamp"], actual["target_volatility"], label="actual next volatility", alpha=0.6
    )
    bottom.plot(
        actual["timestamp"],
        predicted[f"{served['volatility']}.predicted_volatility"],
        label=f"served ({served['volatility']})",
    )
    if served["volatility"] != "har":
        bottom.plot(
            actual["timestamp"], predicted["har.predicted_volatility"], label="HAR", alpha=0.7
        )
    top.set_title(titled(f"{symbol}: test window", data_source(market_source)))
    top.legend()
    bottom.legend()
    figure.tight_layout()
    return figure


def residuals_figure(
    test_predictions: pd.DataFrame, test: pd.DataFrame, forecaster: Forecaster
) -> Figure:
    """Histograms of the served return and log-volatility residuals on the test window."""
    served = forecaster.served
    figure, (left, right) = subplots(1, 2, figsize=(10, 4))
    left.hist(
        test["target_log_return"] - test_predictions[f"{served['return']}.predicted_log_return"],
        bins=80,
    )
    left.set_title(f"log return residuals ({served['return']})")
    predicted = test_predictions[f"{served['volatility']}.predicted_volatility"]
    ratio = np.log(np.maximum(test["target_volatility"], predicted.min()) / predicted)
    right.hist(ratio, bins=80)
    right.set_title(f"log(actual / predicted volatility) ({served['volatility']})")
    figure.tight_layout()
    return figure


def feature_importance_figure(
    forecaster: Forecaster, test: pd.DataFrame, params: dict[str, Any]
) -> Figure:
    """Permutation importance of each feature for every served learned model, on a sample of
    the test window (a note instead when every target is served by a baseline)."""
    learned = {
        target: forecaster.models[name][target]
        for target, name in forecaster.served.items()
        if isinstance(forecaster.models[name][target], LearnedTarget)
    }
    if not learned:
        figure, axis = subplots(figsize=(8, 2))
        axis.axis("off")
        axis.text(0.5, 0.5, "every target is served by a baseline: no learned model", ha="center")
        return figure
    sample = test.sample(min(len(test), params["sample_rows"]), random_state=params["random_seed"])
    figure, axes = subplots(1, len(learned), figsize=(6 * len(learned), 8), squeeze=False)
    for axis, (target, model) in zip(axes[0], learned.items(), strict=True):
        result = permutation_importance(
            model.estimator,
            sample[model.feature_columns].to_numpy(),
            model.training_target(sample),
            n_repeats=params["repeats"],
            random_state=params["random_seed"],
        )
        order = np.argsort(result.importances_mean)[-params["top_features"] :]
        axis.barh(np.asarray(model.feature_columns)[order], result.importances_mean[order])
        axis.set_title(f"permutation importance: {target} ({forecaster.served[target]})")
    figure.tight_layout()
    return figure


def data_checks_summary(validation_result: dict[str, Any]) -> dict[str, Any]:
    """What the quality gate said about the data this model was trained on."""
    keys = ["success", "as_of", "rows", "symbols", "symbol_status", "failed_symbols", "failed"]
    keys += ["warnings", "symbol_summary"]
    return {key: validation_result[key] for key in keys}


def headline_metrics(decision: dict[str, Any]) -> dict[str, Any]:
    """The few numbers that say how good the run's model is (DVC's metrics: `dvc metrics show`
    fits a terminal): per target, the served forecast's loss, its reference baseline's and the
    skill over it; whether it was promoted."""
    scores = decision["scores"]
    headline: dict[str, Any] = {}
    for target, baseline in decision["reference_baseline"].items():
        metric = decision["criteria"][target]
        served, naive = scores["challenger"][target][metric], scores[baseline][target][metric]
        headline[target] = {
            f"served_{metric}": served,
            f"{baseline}_{metric}": naive,
            f"skill_vs_{baseline}": skill(served, naive),
        }
    return headline | {"promoted": bool(decision["promote"])}


def mlflow_metrics(
    test_report: dict[str, Any], backtest: dict[str, Any], decision: dict[str, Any]
) -> dict[str, dict[str, float]]:
    """Flat metric names for kedro-mlflow's metrics history dataset ({value, step}); the served
    forecast's test skill per target is `test.served.return.skill_vs_persistence` and
    `test.served.volatility.skill_vs_har` (in MLflow, kedro-mlflow prefixes the dataset's name:
    live scoring reads them as `modelling_metrics.test.served...` beside the live skill)."""
    metrics: dict[str, float] = {}
    pooled = test_report["pooled"]["metrics"]
    served = {"served": decision["scores"]["challenger"]}
    for model, targets in (pooled | served).items():
        for target, values in targets.items():
            metrics.update(
                {f"test.{model}.{target}.{name}": value for name, value in values.items()}
            )
    metrics["test.served.volatility.skill_vs_har"] = skill(
        served["served"]["volatility"]["qlike"], pooled["har"]["volatility"]["qlike"]
    )
    for target, rivals in decision["diebold_mariano"]["challenger"].items():
        metrics.update(
            {
                f"test.served.{target}.dm_p_vs_{rival}": test["p_value"]
                for rival, test in rivals.items()
            }
        )
    for symbol, comparison in test_report["by_symbol"].items():
        for target, name in decision["served"].items():
            model = name["model"]
            metric = decision["criteria"][target]
            metrics[f"test.{symbol}.served.{target}.{metric}"] = comparison["metrics"][model][
                target
            ][metric]
    for model, values in backtest["mean"].items():
        metrics.update({f"backtest.{model}.{name}": value for name, value in values.items()})
    metrics["promoted"] = float(decision["promote"])
    return {
        name: {"value": float(value), "step": 0}
        for name, value in metrics.items()
        if not math.isnan(value)
    }
