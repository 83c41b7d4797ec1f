"""The quality gate, per symbol: judge each symbol's new bars, promote those that pass, quarantine
the others, and stop the run only when too many symbols fail.

`check_bars_quality` saves the result, its HTML page and the quarantined bars whatever the outcome;
`enforce_quality_gate` then writes the primary bars: the history of every symbol, grown by the new
bars of the symbols that passed (or are warming up). A quarantined symbol keeps its last good
history; the next run fetches its bars again from there.
"""

from __future__ import annotations

import html
import json
import logging
from typing import Any

import pandas as pd

from rps_kedro.core.bars import BAR_COLUMNS, conform_bars, merge_bars
from rps_kedro.core.market_calendar import MarketCalendar
from rps_kedro.pipelines.validation.checks import (
    add_sequence_checks,
    merged_with_history,
    revisions,
    symbol_summary,
)
from rps_kedro.pipelines.validation.expectations import new_bars_suite, run_suite, summary_suite

logger = logging.getLogger(__name__)
PROMOTED = ("passed", "warming_up")
BOOKKEEPING_COLUMNS = ["bar_time", "from_history", "merged_row", "is_new", "revised"]


class DataQualityError(ValueError):
    """Too many symbols failed the quality gate; the message names each one and its failures."""


def _jsonable(value: Any) -> Any:
    """Round-trip through JSON so numpy scalars and timestamps become plain values."""
    return json.loads(json.dumps(value, default=str))


def _new_bars_batch(bars: pd.DataFrame, merged: pd.DataFrame) -> pd.DataFrame:
    """The new bars as the expectations see them: raw timestamp, coerced values, derived columns."""
    new = bars.loc[bars["is_new"]].rename(columns={"raw_timestamp": "timestamp"})
    absent = [column for column in BAR_COLUMNS if column not in merged]
    return new.drop(columns=[*absent, *BOOKKEEPING_COLUMNS], errors="ignore")


def _failures_by_symbol(records: list[dict[str, Any]], judged: list[str]) -> dict[str, list[str]]:
    """Each symbol's failed critical checks (a table-level failure counts for every judged one)."""
    failures: dict[str, list[str]] = {}
    for record in records:
        if record["success"] or record["severity"] != "critical":
            continue
        for symbol in judged if record["symbols"] is None else record["symbols"]:
            failures.setdefault(symbol, []).append(record["check"])
    return failures


def _status(row: pd.Series, failed: list[str], min_history_bars: int) -> str:
    """quarantined / failed (nothing new to hold back) / unchanged / warming_up / passed."""
    if failed:
        return "quarantined" if row["new_bars"] else "failed"
    if not row["new_bars"]:
        return "unchanged"
    return "warming_up" if row["bars"] < min_history_bars else "passed"


def _run_passes(statuses: dict[str, str], max_failed_share: float) -> bool:
    """The run passes unless more than the allowed share of symbols, or every judged one, failed."""
    failed = sum(status in ("quarantined", "failed") for status in statuses.values())
    promoted = sum(status in PROMOTED for status in statuses.values())
    return not failed or (failed / len(statuses) <= max_failed_share and promoted > 0)


def quarantined_rows(
    merged: pd.DataFrame, bars: pd.DataFrame, failures: dict[str, list[str]], statuses: dict
) -> pd.DataFrame:
    """The raw new bars of the quarantined symbols, with the checks their symbol failed."""
    held = bars.loc[bars["is_new"] & bars["symbol"].map(statuses).eq("quarantined")]
    rows = merged.iloc[held["merged_row"].to_numpy()].astype(str)
    rows.insert(0, "symbol_label", held["symbol"].to_numpy())
    rows["failed_checks"] = ["; ".join(failures[symbol]) for symbol in held["symbol"]]
    if rows.empty:
        return pd.DataFrame(columns=["symbol_label", *BAR_COLUMNS, "failed_checks"])
    return rows.reset_index(drop=True)


def compute_quality_result(
    history: pd.DataFrame, merged: pd.DataFrame, symbols: list[str], params: dict[str, Any]
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Judge each symbol's new bars with the GX suites; return the JSON-ready result and the
    quarantined bars."""
    as_of = pd.Timestamp(params["as_of"] or pd.Timestamp.now(tz="UTC")).tz_convert("UTC")
    calendar = MarketCalendar.from_params(params["calendar"])
    examples = params["example_rows"]
    bars = add_sequence_checks(merged_with_history(history, merged), as_of, params)
    summary = symbol_summary(bars, symbols, calendar, as_of, params)
    records = run_suite(
        _new_bars_batch(bars, merged),
        new_bars_suite(params, symbols),
        "new_bars",
        ["symbol", "timestamp"],
        examples,
    )
    records += run_suite(summary, summary_suite(params), "symbols", ["symbol"], examples)
    judged = summary.loc[summary["new_bars"] > 0, "symbol"].tolist()
    failures = _failures_by_symbol(records, judged)
    summary["status"] = [
        _status(row, failures.get(row["symbol"], []), params["min_history_bars"])
        for _, row in summary.iterrows()
    ]
    summary["failed_checks"] = [failures.get(symbol, []) for symbol in summary["symbol"]]
    statuses = dict(zip(summary["symbol"], summary["status"], strict=True))
    failed_symbols = [s for s, status in statuses.items() if status in ("quarantined", "failed")]
    result = {
        "success": _run_passes(statuses, params["max_failed_symbol_share"]),
        "as_of": as_of.isoformat(),
        "rows": len(merged),
        "new_bars": int(summary["new_bars"].sum()),
        "symbols": len(statuses),
        "symbol_status": statuses,
        "failed_symbols": failed_symbols,
        "failed_symbol_share": len(failed_symbols) / max(len(statuses), 1),
        "max_failed_symbol_share": params["max_failed_symbol_share"],
        "failed": sorted({check for checks in failures.values() for check in checks}),
        "warnings": [
            r["check"] for r in records if not r["success"] and r["severity"] != "critical"
        ],
        "expectations": records,
        "symbol_summary": summary.to_dict(orient="records"),
        "revisions": revisions(history, bars),
    }
    return _jsonable(result), quarantined_rows(merged, bars, failures, statuses)


def check_bars_quality(
    history: pd.DataFrame, merged: pd.DataFrame, symbols: list[str], params: dict[str, Any]
) -> tuple[dict[str, Any], str, pd.DataFrame]:
    """Validate the new bars; return the result, its HTML page and the quarantined bars, all saved
    whatever the outcome."""
    result, quarantined = compute_quality_result(history, merged, symbols, params)
    return result, render_validation_report(result), quarantined


def _describe_failure(record: dict[str, Any], symbol: str) -> str:
    """One line per failed expectation of a symbol: what, how many, a few example rows."""
    examples = record["examples_by_symbol"].get(symbol, [])
    observed = (
        f"{record['unexpected_count']} unexpected of {record['element_count']}"
        if record.get("unexpected_count") is not None
        else f"observed {record['observed_value']!r}"
    )
    if record.get("exception"):
        observed = f"could not be evaluated: {record['exception']}"
    quoted = f"; e.g. {examples[:3]}" if examples else ""
    return f"    - {record['check']} [{record['expectation']}]: {observed}{quoted}"


def _describe_symbol(symbol: str, status: str, validation_result: dict[str, Any]) -> str:
    """A failed symbol: its status, then each failed expectation."""
    failed = next(r for r in validation_result["symbol_summary"] if r["symbol"] == symbol)
    lines = [
        _describe_failure(record, symbol)
        for record in validation_result["expectations"]
        if record["check"] in failed["failed_checks"] and record["severity"] == "critical"
    ]
    return "\n".join([f"  {symbol} ({status}):", *lines])


def failure_message(validation_result: dict[str, Any]) -> str:
    """Every failed symbol with its failed expectations and example rows."""
    statuses = validation_result["symbol_status"]
    return "\n".join(
        _describe_symbol(symbol, statuses[symbol], validation_result)
        for symbol in validation_result["failed_symbols"]
    )


def _log_outcome(validation_result: dict[str, Any]) -> None:
    """Log what happens to each symbol, the provider's revisions and history bars kept."""
    statuses = validation_result["symbol_status"]
    if not validation_result["new_bars"]:
        logger.info("No new bars for any symbol: the primary bars are left as they were")
    for row in validation_result["symbol_summary"]:
        logger.info(
            "%s: %s (%d bars, %d new)", row["symbol"], row["status"], row["bars"], row["new_bars"]
        )
        if row["history_bars_kept"]:
            logger.warning(
                "%s: %d history bars absent from the merged bars were kept",
                row["symbol"],
                row["history_bars_kept"],
            )
    if validation_result["failed_symbols"]:
        logger.warning(
            "Quarantined or failed, history kept:\n%s", failure_message(validation_result)
        )
    for revision in validation_result["revisions"]:
        if statuses.get(revision["symbol"]) in PROMOTED:
            logger.info(
                "%s %s: %s revised by the provider from %r to %r",
                revision["symbol"],
                revision["timestamp"],
                revision["column"],
                revision["old"],
                revision["new"],
            )


def enforce_quality_gate(
    history: pd.DataFrame, merged: pd.DataFrame, validation_result: dict[str, Any]
) -> pd.DataFrame:
    """Grow the primary bars by the symbols that passed; raise DataQualityError, leaving them as
    they were, when too many symbols failed."""
    if not validation_result["success"]:
        share = validation_result["failed_symbol_share"]
        raise DataQualityError(
            f"Data quality gate failed for {len(validation_result['failed_symbols'])} of "
            f"{validation_result['symbols']} symbols ({share:.0%} > "
            f"{validation_result['max_failed_symbol_share']:.0%}, or none passed); "
            "primary bars left unchanged.\n" + failure_message(validation_result)
        )
    _log_outcome(validation_result)
    statuses = validation_result["symbol_status"]
    promoted = [symbol for symbol, status in statuses.items() if status in PROMOTED]
    if not promoted:
        return history
    update = merged.loc[merged["symbol"].isin(promoted)]
    return conform_bars(merge_bars(history, conform_bars(update)))


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
<p>{validation_result["rows"]} merged bars ({validation_result["new_bars"]} new), {validation_result["symbols"]} symbols, as of {validation_result["as_of"]}.
Quarantined or failed: {html.escape(", ".join(validation_result["failed_symbols"]) or "none")}
({validation_result["failed_symbol_share"]:.0%}; the run fails above {validation_result["max_failed_symbol_share"]:.0%} or when none passes).
Failed: {html.escape(", ".join(validation_result["failed"]) or "none")}.
Warnings: {html.escape(", ".join(validation_result["warnings"]) or "none")}.</p>
<table><tr><th>check</th><th>batch</th><th>severity</th><th>passed</th><th>unexpected / observed</th><th>examples</th></tr>
{rows}
</table>
<h2>Per symbol</h2>
{summary}
</body></html>
"""
