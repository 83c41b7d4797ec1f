"""`python -m tools.readme_results` (`make results`): rewrite the README's "Results" section, between
its markers, from the figure files the project writes: forecast skill vs the baselines
(benchmarks/), serving latency, freshness, the pipeline's cost curve and the last run's headline metrics. A missing file
is named with the command that writes it; nothing is made up. The same files give the same
section (its date is the newest file's, not the clock's)."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.harness import REPORT_DIR, four_digits
from rps_kedro.config import load_config

PROJECT_ROOT = Path(__file__).resolve().parents[1]
README = PROJECT_ROOT / "README.md"
START = "<!-- results:start -->"
END = "<!-- results:end -->"
TRAINING_NODES_SHOWN = 4


@dataclass(frozen=True)
class Part:
    """One part of the section: its title, figure file, the command that writes it, its render."""

    title: str
    path: Path
    command: str
    render: Callable[[dict[str, Any]], list[str]]


def _skill(value: float | None) -> str:
    """A skill (1 - loss / baseline's loss) as a signed percentage."""
    return "n/a" if value is None or math.isnan(value) else f"{100 * value:+.1f} %"


def forecast_rows(figures: dict[str, Any]) -> list[str]:
    """One row per series: what is served and its test skill over persistence and HAR."""
    lines = [
        "| series | data | served (return / volatility) | return RMSE skill vs persistence"
        " (DM p) | volatility QLIKE skill vs HAR (DM p) |",
        "|---|---|---|---|---|",
    ]
    for name, series in figures["series"].items():
        run = series["training_run"]
        pooled = run["pooled"]
        data = "SIMULATED" if name == "simulator" else "real"
        lines.append(
            f"| {name} | {data} | {run['served']['return']} / {run['served']['volatility']}"
            f" | {_skill(pooled['return_skill_vs_persistence'])}"
            f" ({four_digits(pooled['return_dm_p_vs_persistence'])})"
            f" | {_skill(pooled['volatility_qlike_skill_vs_har'])}"
            f" ({four_digits(pooled['volatility_dm_p_vs_har'])}) |"
        )
    return lines


def serving_rows(figures: dict[str, Any]) -> list[str]:
    """The BentoML service's /predict latency and throughput per concurrency, and cold start."""
    lines = [
        "| clients | requests/s | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|",
    ]
    for clients, load in figures["bentoml"].items():
        lines.append(
            f"| {clients} | {load['requests_per_second']} | {load['p50_ms']} | {load['p99_ms']}"
            f" | {load['errors']} |"
        )
    cold_start = figures.get("bento", {}).get("cold_start_median_seconds")
    if cold_start is not None:
        lines += ["", f"Cold start (`bentoml serve` to the first ready answer): {cold_start} s."]
    return lines


def freshness_rows(figures: dict[str, Any]) -> list[str]:
    """Seconds from a bar's close to every symbol's forecast, per number of symbols."""
    lines = [
        "| symbols | one `kedro run` s | through Airflow s | goal (Airflow) s |",
        "|---|---|---|---|",
    ]
    goals = figures.get("goals_airflow_seconds", {})
    for size in figures["sizes"]:
        goal = goals.get(str(size["symbols"]), "")
        lines.append(
            f"| {size['symbols']} | {size['kedro_run']['latency_seconds']}"
            f" | {size['airflow']['latency_seconds']} | {goal} |"
        )
    return lines


def cost_curve_rows(figures: dict[str, Any]) -> list[str]:
    """The whole pipeline's time and peak memory per number of symbols, and the exponents."""
    curve = figures["cost_curve"]
    stages = list(curve["runs"][0]["stages"])
    lines = [
        "| symbols | bars | total s | peak RSS MiB | "
        + " | ".join(f"{stage} s" for stage in stages)
        + " |",
        "|---" * (4 + len(stages)) + "|",
    ]
    for run in curve["runs"]:
        lines.append(
            f"| {run['symbols']} | {run['bars']:,} | {run['total_wall_seconds']}"
            f" | {run['peak_rss_mib']} | "
            + " | ".join(str(run["stages"][stage]["wall_seconds"]) for stage in stages)
            + " |"
        )
    exponents, goals = curve["exponents"], curve["goals"]
    return lines + [
        "",
        f"Growth exponents (log-log fit; 1 = linear): time {exponents['total_wall_seconds']},"
        f" peak memory {exponents['peak_rss_mib']}. Goals for the largest:"
        f" {goals['wall_seconds']} s, {goals['peak_rss_mib']} MiB, time exponent"
        f" <= {goals['wall_exponent']}; met: "
        + ", ".join(f"{goal} {'yes' if met else 'no'}" for goal, met in curve["met"].items())
        + ".",
    ]


def training_rows(figures: dict[str, Any]) -> list[str]:
    """`make run`'s kedro run: wall seconds against the goal, and its longest nodes."""
    lines = [
        f"The default run (5 symbols x 6 months): {figures['wall_seconds']} s"
        f" (goal {figures['goal_seconds']} s), of which nodes {figures['nodes_seconds']} s.",
        "",
        "| longest nodes | s |",
        "|---|---|",
    ]
    longest = list(figures["nodes"].items())[:TRAINING_NODES_SHOWN]
    return lines + [f"| `{name}` | {seconds} |" for name, seconds in longest]


def headline_rows(headline: dict[str, Any]) -> list[str]:
    """Per target: the served forecast's test loss, its reference baseline's, the skill."""
    lines = ["| target | served | baseline | skill |", "|---|---|---|---|"]
    for target, values in headline.items():
        if not isinstance(values, dict):
            continue
        served = next(key for key in values if key.startswith("served_"))
        skill = next(key for key in values if key.startswith("skill_vs_"))
        [baseline] = [key for key in values if key not in (served, skill)]
        lines.append(
            f"| {target} | {served.removeprefix('served_')} {four_digits(values[served])}"
            f" | {baseline.replace('_', ' ', 1)} {four_digits(values[baseline])}"
            f" | {_skill(values[skill])} |"
        )
    lines += ["", f"Promoted: {'yes' if headline.get('promoted') else 'no'}."]
    return lines


def headline_path(project: Path = PROJECT_ROOT) -> Path:
    """Where the last run writes its headline metrics (conf/base/catalog.yml)."""
    catalog = load_config("catalog", project / "conf")
    return project / catalog["headline_metrics"]["filepath"]


def parts(benchmarks: Path, headline: Path) -> list[Part]:
    """The section's parts, in order."""
    return [
        Part(
            "Forecast skill vs the baselines (test window; skill > 0 beats the baseline)",
            benchmarks / "forecasts.json",
            "python -m benchmarks.bench_forecasts",
            forecast_rows,
        ),
        Part(
            "Serving latency (BentoML `/predict`, one symbol, closed loop)",
            benchmarks / "serving.json",
            "python -m benchmarks.bench_serving",
            serving_rows,
        ),
        Part(
            "Freshness (a bar's close to its forecast, hourly refresh)",
            benchmarks / "freshness.json",
            "python -m benchmarks.bench_freshness",
            freshness_rows,
        ),
        Part(
            "Cost curve (the whole default pipeline, simulated symbols x 2 years, one machine)",
            benchmarks / "pipeline.json",
            "python -m benchmarks pipeline",
            cost_curve_rows,
        ),
        Part(
            "Training time (`make run`'s `kedro run`, node by node)",
            benchmarks / "training.json",
            "python -m benchmarks.bench_training",
            training_rows,
        ),
        Part(
            "Headline metrics of the last run (`dvc metrics show`)",
            headline,
            "make run",
            headline_rows,
        ),
    ]


def measured_at(path: Path, figures: dict[str, Any]) -> datetime:
    """When a figure file was measured: its `measured_at`, else its modification time."""
    if "measured_at" in figures:
        return datetime.fromisoformat(figures["measured_at"])
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _relative(path: Path, root: Path) -> str:
    """`path` relative to the README's folder when it is inside it."""
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def render_section(section_parts: list[Part], root: Path) -> str:
    """The section's text (without its markers) from the parts' figure files."""
    body: list[str] = []
    times = []
    for part in section_parts:
        name = _relative(part.path, root)
        body += ["", f"**{part.title}**", ""]
        if not part.path.exists():
            body.append(f"Not measured yet: `{part.command}` writes `{name}`.")
            continue
        figures = json.loads(part.path.read_text())
        when = measured_at(part.path, figures)
        times.append(when)
        cpus = f" on {figures['machine']['cpus']} CPUs" if "machine" in figures else ""
        body += [f"From `{name}`, measured {when:%Y-%m-%d %H:%M} UTC{cpus}.", ""]
        body += part.render(figures)
    newest = f"figures as of {max(times):%Y-%m-%d %H:%M} UTC" if times else "no figures yet"
    header = (
        f"Generated by `make results` ({newest}). The simulator's rows are SIMULATED data;"
        " run the command named under a part to measure it."
    )
    return "\n".join([header, *body]) + "\n"


def replace_section(readme: str, section: str) -> str:
    """`readme` with the text between its results markers replaced by `section`."""
    before, start, rest = readme.partition(START)
    _, end, after = rest.partition(END)
    if not start or not end:
        raise ValueError(f"the README has no {START} ... {END} markers")
    return f"{before}{START}\n{section}{END}{after}"


def main(argv: list[str] | None = None) -> int:
    """Rewrite the README's results section; say whether it changed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", type=Path, default=README)
    parser.add_argument("--benchmarks", type=Path, default=PROJECT_ROOT / REPORT_DIR)
    parser.add_argument("--headline", type=Path, default=None, help="default: from the catalog")
    arguments = parser.parse_args(argv)
    headline = arguments.headline or headline_path()
    section = render_section(parts(arguments.benchmarks, headline), arguments.readme.parent)
    current = arguments.readme.read_bytes().decode()  # byte for byte outside the markers
    updated = replace_section(current, section)
    arguments.readme.write_bytes(updated.encode())
    print(f"{arguments.readme}: results {'updated' if updated != current else 'unchanged'}")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
