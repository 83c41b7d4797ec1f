"""The bars quality suite in Great Expectations (GX Core 1.x), thresholds from parameters.

Two batches are validated: each symbol's new bars (with the derived columns of `checks`) and a
per-symbol summary (bars, new bars, missing trading hours, bars outside them, newest bar age,
zero-range bars). Every failed expectation names the symbols whose rows it caught.

Great Expectations is imported by the functions that build and run the suites, not with the
module: importing it takes seconds, and every Kedro session imports the pipelines' modules (an
Airflow task that does not validate must not pay for it).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pandas as pd

from rps_kedro.core.bar_rules import OHLC_ORDER, ON_THE_HOUR, UNIQUE_KEYS, VALUE_BOUNDS
from rps_kedro.core.bars import BAR_COLUMNS, KEY_COLUMNS, VALUE_COLUMNS

if TYPE_CHECKING:
    import great_expectations.expectations as gxe

# GX logs at INFO (a line per ephemeral context); one of its modules sets its own level on import.
GX_CHATTY_LOGGERS = ("great_expectations", "great_expectations.data_context.types.base")


def _quiet_great_expectations() -> None:
    """GX's loggers at WARNING, once it is imported (see the module docstring)."""
    for name in GX_CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def _exactly(column: str, value: Any, description: str) -> gxe.Expectation:
    """Every value of a derived column equals the one allowed value."""
    import great_expectations.expectations as gxe  # noqa: PLC0415 (see the module docstring)

    return gxe.ExpectColumnValuesToBeInSet(
        column=column, value_set=[value], description=description
    )


def new_bars_suite(params: dict[str, Any], symbols: list[str]) -> list[gxe.Expectation]:
    """Expectations on each new bar: schema, types, keys, time, values, spikes, shifts, stuck."""
    import great_expectations.expectations as gxe  # noqa: PLC0415 (see the module docstring)
    from great_expectations.expectations.metadata_types import FailureSeverity  # noqa: PLC0415

    spike = params["spike"]
    suite: list[gxe.Expectation] = [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=BAR_COLUMNS, exact_match=False, description="required columns present"
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="symbol", value_set=symbols, description="symbol is a configured symbol"
        ),
        _exactly("timestamp_is_utc_datetime", True, "timestamp is a timezone-aware datetime"),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=KEY_COLUMNS, description=UNIQUE_KEYS),
        _exactly("seconds_past_hour", 0.0, ON_THE_HOUR),
        gxe.ExpectColumnValuesToBeBetween(
            column="bar_end_hours_after_as_of",
            max_value=0,
            description="bar's hour has ended (no future or unfinished bar)",
        ),
        _exactly("non_numeric_values", 0, "values are numbers"),
        _exactly("non_finite_values", 0, "values are finite"),
    ]
    suite += [
        gxe.ExpectColumnValuesToNotBeNull(column=column, description=f"{column} is not null")
        for column in VALUE_COLUMNS
    ]
    suite += [
        gxe.ExpectColumnValuesToBeBetween(
            column=bound.column,
            min_value=bound.minimum,
            strict_min=bound.strict,
            description=bound.description,
        )
        for bound in VALUE_BOUNDS.values()
    ]
    suite += [
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=rule.above, column_B=rule.below, or_equal=True, description=rule.description
        )
        for rule in OHLC_ORDER
    ]
    suite += [
        _exactly(
            "unconfirmed_spike",
            False,
            f"no spike beyond {spike['max_mads']} trailing MADs that the next "
            f"{spike['confirmation_bars']} bars do not confirm",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="bar_to_bar_ratio",
            max_value=params["max_bar_to_bar_ratio"],
            description=f"no level shift: close within x{params['max_bar_to_bar_ratio']} of "
            "the previous bar's",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="identical_close_run",
            max_value=params["max_identical_closes"],
            description=f"close not stuck: at most {params['max_identical_closes']} identical "
            "closes in a row with volume",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="revision_change",
            max_value=params["max_revision"],
            description=f"revised prices within {params['max_revision']:.1%} of the history's",
        ),
        gxe.ExpectColumnValuesToNotBeInSet(
            column="bar_range",
            value_set=[0.0],
            mostly=1 - params["zero_range_max_share"],
            severity=FailureSeverity.WARNING,
            description=f"zero-range bars (high == low) at most {params['zero_range_max_share']:.1%}",
        ),
    ]
    return suite


def summary_suite(params: dict[str, Any]) -> list[gxe.Expectation]:
    """Expectations per symbol: bars exist, few missing trading hours in the new bars and the
    last days, none outside trading hours, fresh newest bar; warnings for warm-up and history."""
    import great_expectations.expectations as gxe  # noqa: PLC0415 (see the module docstring)
    from great_expectations.expectations.metadata_types import FailureSeverity  # noqa: PLC0415

    ratio = params["max_missing_hour_ratio"]
    suite: list[gxe.Expectation] = [
        gxe.ExpectColumnValuesToBeBetween(
            column="bars", min_value=1, description="configured symbol has bars"
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="missing_hour_ratio_checked",
            max_value=ratio,
            description=f"missing trading hours below {ratio:.0%} in the new bars and the last "
            f"{params['recent_days']} days",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="bars_outside_trading_hours",
            max_value=0,
            description="no bars outside the exchange's trading hours",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="bars",
            min_value=params["min_history_bars"],
            severity=FailureSeverity.WARNING,
            description=f"at least {params['min_history_bars']} bars (fewer: warming up)",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="missing_hour_ratio",
            max_value=ratio,
            severity=FailureSeverity.WARNING,
            description=f"missing trading hours below {ratio:.0%} over the whole history",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="history_bars_kept",
            max_value=0,
            severity=FailureSeverity.WARNING,
            description="merged bars hold every history bar (the absent ones are kept)",
        ),
    ]
    freshness = params["freshness"]
    if freshness["enabled"]:
        suite.append(
            gxe.ExpectColumnValuesToBeBetween(
                column="hours_since_last_bar",
                max_value=freshness["max_age_hours"],
                description=f"newest bar at most {freshness['max_age_hours']} h old",
            )
        )
    return suite


def run_suite(
    frame: pd.DataFrame,
    expectations: list[gxe.Expectation],
    name: str,
    index_columns: list[str],
    example_count: int,
) -> list[dict[str, Any]]:
    """Validate a frame in a fresh ephemeral GX context; one plain record per expectation."""
    import great_expectations as gx  # noqa: PLC0415 (see the module docstring)
    from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: PLC0415

    _quiet_great_expectations()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas(name)
        .add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe(name)
    )
    suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch, suite=suite)
    )
    usable_index = [column for column in index_columns if column in frame.columns]
    result = definition.run(
        batch_parameters={"dataframe": frame},
        result_format={
            "result_format": "COMPLETE",
            "partial_unexpected_count": example_count,
            "unexpected_index_column_names": usable_index,
        },
    )
    records = [_record(outcome, name, example_count) for outcome in result.results]
    for record in records:
        column = record["kwargs"].get("column")
        if column is not None and column not in frame.columns:
            record["exception"] = f"column '{column}' is missing"
    return records


def _examples_by_symbol(unexpected: list[dict[str, Any]], count: int) -> dict[str, list]:
    """The first `count` unexpected rows of each symbol."""
    examples: dict[str, list] = {}
    for row in unexpected:
        rows = examples.setdefault(str(row.get("symbol")), [])
        if len(rows) < count:
            rows.append(row)
    return examples


def _record(outcome: Any, batch: str, example_count: int) -> dict[str, Any]:
    """Flatten one GX expectation result to the fields the report and the gate need.

    `symbols` lists the symbols whose rows it caught, or is None for a table-level expectation
    (required columns) that concerns every symbol of the batch.
    """
    config = outcome.expectation_config
    details = outcome.result or {}
    exception = (outcome.exception_info or {}).get("exception_message")
    unexpected = details.get("unexpected_index_list")
    by_symbol = (
        _examples_by_symbol(unexpected, example_count)
        if isinstance(unexpected, list) and unexpected and isinstance(unexpected[0], dict)
        else None
    )
    return {
        "check": config.description,
        "batch": batch,
        "expectation": config.type,
        "kwargs": {k: v for k, v in config.kwargs.items() if k not in ("batch_id",)},
        "severity": str(config.severity.value),
        "success": bool(outcome.success),
        "observed_value": details.get("observed_value"),
        "element_count": details.get("element_count"),
        "unexpected_count": details.get("unexpected_count"),
        "unexpected_percent": details.get("unexpected_percent"),
        "examples": details.get("partial_unexpected_index_list")
        or details.get("partial_unexpected_list")
        or [],
        "exception": exception,
        "symbols": None if by_symbol is None else sorted(by_symbol),
        "examples_by_symbol": by_symbol or {},
    }
