"""The quality gate as two nodes: compute the result (always saved), then enforce it."""

from __future__ import annotations

import html
import json
from typing import Any

import pandas as pd

from rps_kedro.core.bars import conform_bars
from rps_kedro.core.market_calendar import MarketCalendar
from rps_kedro.pipelines.validation.expectations import (
    bars_suite,
    bars_with_derived_columns,
    run_suite,
    summary_suite,
    symbol_summary,
)


class DataQualityError(ValueError):
    """The bars failed the quality gate; the message names each failed expectation."""


def _jsonable(value: Any) -> Any:
    """Round-trip through JSON so numpy scalars and timestamps become plain values."""
    return json.loads(json.dumps(value, default=str))


def compute_quality_result(bars: pd.DataFrame, params: dict[str, Any]) -> dict[str, Any]:
    """Run the GX suites on the merged bars and return the full, JSON-ready result."""
    as_of = pd.Timestamp(params["as_of"] or pd.Timestamp.now(tz="UTC")).tz_convert("UTC")
    calendar = MarketCalendar.from_params(params["calendar"])
    examples = params["example_rows"]
    checked = bars_with_derived_columns(bars, params["spike_window"])
    records = run_suite(checked, bars_suite(params), "bars", ["symbol", "timestamp"], examples)
    summary = symbol_summary(bars, calendar, as_of)
    records += run_suite(summary, summary_suite(params), "symbols", ["symbol"], examples)
    failed = [r["check"] for r in records if not r["success"] and r["severity"] == "critical"]
    warnings = [r["check"] for r in records if not r["success"] and r["severity"] != "critical"]
    return _jsonable(
        {
            "success": not failed,
            "as_of": as_of.isoformat(),
            "rows": len(bars),
            "symbols": int(bars["symbol"].nunique()) if "symbol" in bars else 0,
            "failed": failed,
            "warnings": warnings,
            "expectations": records,
            "symbol_summary": summary.to_dict(orient="records"),
        }
    )


def check_bars_quality(bars: pd.DataFrame, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Validate the bars; return the result and its HTML page, both saved whatever the outcome."""
    result = compute_quality_result(bars, params)
    return result, render_validation_report(result)


def _describe_failure(record: dict[str, Any]) -> str:
    """One line per failed expectation: what, observed value, a few example rows."""
    observed = (
        f"{record['unexpected_count']} unexpected of {record['element_count']} "
        f"({record['unexpected_percent']:.3g}%)"
        if record.get("unexpected_count") is not None
        else f"observed {record['observed_value']!r}"
    )
    if record.get("exception"):
        observed = f"could not be evaluated: {record['exception']}"
    examples = f"; e.g. {record['examples'][:3]}" if record.get("examples") else ""
    return f"  - {record['check']} [{record['expectation']}]: {observed}{examples}"


def enforce_quality_gate(bars: pd.DataFrame, validation_result: dict[str, Any]) -> pd.DataFrame:
    """Pass the bars on as primary data, or raise DataQualityError naming every failure."""
    if not validation_result["success"]:
        failures = [
            _describe_failure(record)
            for record in validation_result["expectations"]
            if record["check"] in validation_result["failed"]
        ]
        raise DataQualityError(
            f"Data quality gate failed: {len(failures)} expectation(s) not met on "
            f"{validation_result['rows']} bars; primary bars left unchanged.\n"
            + "\n".join(failures)
        )
    return conform_bars(bars)


def render_validation_report(validation_result: dict[str, Any]) -> str:
    """A self-contained HTML page of the validation result."""
    status = "PASSED" if validation_result["success"] else "FAILED"
    rows = "\n".join(
        "<tr class='{cls}'><td>{check}</td><td>{batch}</td><td>{severity}</td><td>{ok}</td>"
        "<td>{observed}</td><td><code>{examples}</code></td></tr>".format(
            cls="ok" if r["success"] else r["severity"],
            check=html.escape(str(r["check"])),
            batch=r["batch"],
            severity=r["severity"],
            ok="yes" if r["success"] else "NO",
            observed=html.escape(
                str(
                    r["unexpected_count"]
                    if r["unexpected_count"] is not None
                    else r["observed_value"]
                )
            ),
            examples=html.escape(json.dumps(r["examples"][:3])),
        )
        for r in validation_result["expectations"]
    )
    summary = pd.DataFrame(validation_result["symbol_summary"]).to_html(
        index=False, float_format="%.4f"
    )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Bars validation: {status}</title>
<style>body{{font-family:sans-serif;margin:2em}} td,th{{padding:4px 8px;border-bottom:1px solid #ddd}}
tr.critical{{background:#fdd}} tr.warning{{background:#ffd}} .PASSED{{color:green}} .FAILED{{color:red}}</style>
</head><body>
<h1>Bars validation: <span class="{status}">{status}</span></h1>
<p>{validation_result["rows"]} bars, {validation_result["symbols"]} symbols, as of {validation_result["as_of"]}.
Failed: {html.escape(", ".join(validation_result["failed"]) or "none")}.
Warnings: {html.escape(", ".join(validation_result["warnings"]) or "none")}.</p>
<table><tr><th>check</th><th>batch</th><th>severity</th><th>passed</th><th>unexpected / observed</th><th>examples</th></tr>
{rows}
</table>
<h2>Per symbol</h2>
{summary}
</body></html>
"""
