"""The bars' rules are declared once and evaluate the same in the gate (GX) and the service."""

import numpy as np
import pandas as pd
import pytest

from rps_kedro.core.bar_rules import (
    OHLC_ORDER,
    VALUE_BOUNDS,
    first_implausible_move,
    first_violation,
    seconds_past_hour,
)
from rps_kedro.pipelines.validation.expectations import new_bars_suite, run_suite
from rps_kedro.serving.schemas import Bar
from tests.conftest import project_parameters


@pytest.fixture(scope="module")
def jumbled_bars() -> pd.DataFrame:
    """Bars with random OHLC values, many of them inconsistent; one symbol per row."""
    generator = np.random.default_rng(7)
    size = 400
    values = generator.uniform(90, 110, size=(size, 4)).round(0)  # ties happen too
    frame = pd.DataFrame(values, columns=["open", "high", "low", "close"])
    return frame.assign(symbol=[f"S{row:03d}" for row in range(size)], volume=1.0)


def test_gx_and_numpy_flag_the_same_bars(jumbled_bars):
    descriptions = {rule.description for rule in OHLC_ORDER}
    suite = [
        expectation
        for expectation in new_bars_suite(project_parameters()["validation"], [])
        if expectation.description in descriptions
    ]
    assert len(suite) == len(OHLC_ORDER)
    records = run_suite(jumbled_bars, suite, "ohlc", ["symbol"], example_count=1000)
    flagged_by_gx = {record["check"]: set(record["symbols"] or []) for record in records}
    arrays = {column: jumbled_bars[column].to_numpy() for column in jumbled_bars}
    for rule in OHLC_ORDER:
        flagged_by_numpy = set(jumbled_bars["symbol"][rule.violated(arrays)])
        assert flagged_by_numpy, rule  # the data exercises every rule
        assert flagged_by_gx[rule.description] == flagged_by_numpy


def test_first_violation_names_the_rule_and_the_bar():
    bars = {
        "open": np.array([10.0, 10.0]),
        "high": np.array([11.0, 9.0]),
        "low": np.array([9.0, 9.5]),
        "close": np.array([10.0, 9.8]),
    }
    rule, row = first_violation(bars)
    assert (rule.code, row, rule.field) == ("high_below_low", 1, "high")
    assert rule.reason(bars, row) == "high 9 is below low 9.5 of the same bar"
    assert first_violation({k: v[:1] for k, v in bars.items()}) is None


def test_the_request_schema_takes_its_bounds_from_the_rules():
    bar = {"timestamp": "2026-01-05T15:00:00Z", "open": 1, "high": 1, "low": 1, "close": 1}
    assert VALUE_BOUNDS["volume"].field_constraint() == {"ge": 0.0}
    Bar.model_validate({**bar, "volume": 0})
    for column in ("open", "high", "low", "close"):
        assert VALUE_BOUNDS[column].field_constraint() == {"gt": 0.0}
        with pytest.raises(ValueError, match="greater than 0"):
            Bar.model_validate({**bar, column: 0, "volume": 1})


def test_seconds_past_hour():
    hour = 1_767_225_600.0  # 2026-01-01T00:00:00Z
    seconds = seconds_past_hour(np.array([hour, hour + 1800, hour - 1, np.nan]))
    np.testing.assert_array_equal(seconds, [0.0, 1800.0, 3599.0, np.nan])


def _bars(*rows: tuple[float, float, float, float]) -> dict[str, np.ndarray]:
    return dict(zip(("open", "high", "low", "close"), np.array(rows, dtype=float).T, strict=True))


def test_a_move_beyond_the_factor_within_a_bar_or_between_bars_is_named():
    calm = (100.0, 104.0, 99.0, 101.0)
    assert first_implausible_move(_bars(calm, calm, (101.0, 900.0, 95.0, 120.0)), 10) is None
    row, field, reason = first_implausible_move(_bars(calm, (101.0, 1e11, 1e-9, 101.0)), 10)
    assert (row, field) == (1, "high")
    assert reason.startswith("high 1e+11 is 1e+20 times low 1e-09 of the same bar")
    alternating = _bars(calm, (1e-9,) * 4, calm, (1e-9,) * 4)  # 1e-9 / 100 by turns
    row, field, reason = first_implausible_move(alternating, 10)
    assert (row, field) == (1, "open")
    assert "1e+11 times away from the previous bar's close 101" in reason
    assert first_implausible_move(_bars(*[(1e-300,) * 4] * 3), 10) is None  # tiny, but flat
