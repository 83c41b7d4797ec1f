"""The Grafana dashboards of ``monitoring/grafana/dashboards``: their panels' PromQL, ready to run.

Grafana rewrites a query before sending it to Prometheus: it substitutes its built-in interval
variables (``$__rate_interval``...) and the dashboard's template variables. ``panel_queries``
lists every query of every panel and ``render`` does that substitution, resolving ``query``
variables (``label_values(selector, label)``) against a live Prometheus like Grafana would.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.servers import MONITORING_DIR, PrometheusAPI, PrometheusQueryError

DASHBOARDS_DIR = MONITORING_DIR / "grafana" / "dashboards"
DATASOURCES_DIR = MONITORING_DIR / "grafana" / "provisioning" / "datasources"

# What Grafana would substitute for a 1 h dashboard at a 15 s scrape interval, shortened so a
# Prometheus that has run for a few seconds has samples in every window.
BUILTIN_VARIABLES = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "5m",
}
LABEL_VALUES = re.compile(r"^\s*label_values\((?:(?P<selector>.+),\s*)?(?P<label>\w+)\)\s*$")
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    ref_id: str
    expr: str
    instant: bool

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.ref_id}"


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS_DIR.glob("*.json"))


def load_dashboard(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in (collapsed) rows; rows themselves excluded."""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def panel_queries(dashboard: dict[str, Any]) -> list[PanelQuery]:
    """Every (non-hidden) PromQL query of every panel."""
    queries = []
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            if target.get("hide"):
                continue
            queries.append(
                PanelQuery(
                    dashboard=dashboard["title"],
                    panel=panel.get("title", f"panel {panel.get('id')}"),
                    ref_id=target.get("refId", "?"),
                    expr=target.get("expr", ""),
                    instant=bool(target.get("instant")) and not target.get("range"),
                )
            )
    return queries


def template_variables(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return dashboard.get("templating", {}).get("list", [])


def variable_query(variable: dict[str, Any]) -> str:
    query = variable.get("query", "")
    return query.get("query", "") if isinstance(query, dict) else query


def resolve_variables(dashboard: dict[str, Any], prometheus: PrometheusAPI) -> dict[str, str]:
    """Values for the dashboard's template variables: a ``label_values`` query variable takes its
    first value in Prometheus (as Grafana selects by default), other kinds their current value."""
    values = dict(BUILTIN_VARIABLES)
    for variable in template_variables(dashboard):
        name = variable["name"]
        match = LABEL_VALUES.match(variable_query(variable))
        if variable.get("type") == "query" and match:
            found = prometheus.label_values(match["label"], match["selector"])
            values[name] = sorted(found)[0] if found else ""
        else:
            values[name] = str(variable.get("current", {}).get("value", ""))
    return values


def render(expr: str, values: dict[str, str]) -> str:
    """``expr`` with Grafana's ``$name``, ``${name}`` and ``[[name]]`` variables substituted."""

    def substitute(match: re.Match) -> str:
        name = next(group for group in match.groups() if group)
        if name not in values:
            raise KeyError(f"unknown dashboard variable ${name} in {expr!r}")
        return values[name]

    return VARIABLE.sub(substitute, expr)


def evaluate_panels(
    dashboard: dict[str, Any], prometheus: PrometheusAPI, *, window: float = 30
) -> dict[PanelQuery, str | None]:
    """Run every panel query as Grafana would (range queries over the last ``window`` seconds,
    instant ones now) and say what went wrong with each: an error message, ``"no data"`` when no
    finite value came back, or None when it returned data."""
    values = resolve_variables(dashboard, prometheus)
    now = time.time()
    outcome: dict[PanelQuery, str | None] = {}
    for query in panel_queries(dashboard):
        expr = render(query.expr, values)
        try:
            if query.instant:
                result = prometheus.query(expr, at=now)["result"]
                points = [sample["value"][1] for sample in result]
            else:
                result = prometheus.query_range(expr, start=now - window, end=now)["result"]
                points = [value for series in result for _, value in series["values"]]
        except PrometheusQueryError as error:
            outcome[query] = f"error: {error}"
            continue
        finite = any(math.isfinite(float(point)) for point in points)
        outcome[query] = None if finite else f"no data for {expr}"
    return outcome
