"""The quality gate: each corruption kind fails and names the right expectation; clean data passes."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from rps_kedro.core.bars import conform_bars
from rps_kedro.pipelines.validation.nodes import (
    DataQualityError,
    check_bars_quality,
    enforce_quality_gate,
)
from tests.conftest import PROJECT_ROOT, SIMULATION_END

REAL_SOL = PROJECT_ROOT.parent / "shared/data/real/SOL-USDT_1h.parquet"
REAL_IBM = PROJECT_ROOT.parent / "shared/data/real/IBM_1h.parquet"


@pytest.fixture(scope="module")
def params() -> dict:
    """The project's validation parameters, with the calendar resolved and a fixed 'now'."""
    config = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_validation.yml").read_text())
    config = config["validation"]
    config["calendar"] = yaml.safe_load((PROJECT_ROOT / "conf/base/globals.yml").read_text())[
        "market_calendar"
    ]
    config["as_of"] = SIMULATION_END + "+00:00"
    return config


def _failed_checks(bars: pd.DataFrame, params: dict) -> list[str]:
    result, _ = check_bars_quality(bars, params)
    return result["failed"]


def test_clean_simulated_bars_pass_and_become_primary(simulated_bars, params):
    result, page = check_bars_quality(simulated_bars, params)
    assert result["success"], result["failed"]
    assert result["failed"] == []
    assert "PASSED" in page
    json.dumps(result)
    primary = enforce_quality_gate(simulated_bars, result)
    pd.testing.assert_frame_equal(primary, conform_bars(simulated_bars))


def _corrupt_nulls(bars):
    bars.loc[bars.sample(frac=0.02, random_state=1).index, "close"] = np.nan
    return bars


def _corrupt_negative_price(bars):
    bars.loc[10, "low"] = -1.0
    return bars


def _corrupt_zero_price(bars):
    bars.loc[10, "open"] = 0.0
    return bars


def _corrupt_high_below_low(bars):
    bars.loc[20, "high"] = bars.loc[20, "low"] * 0.9
    return bars


def _corrupt_duplicates(bars):
    return pd.concat([bars, bars.iloc[[5, 6]]], ignore_index=True)


def _corrupt_gaps(bars):
    crypto = bars.index[bars["symbol"] == "BTC-USD"]
    return bars.drop(crypto[100:400:2])


def _corrupt_misaligned(bars):
    bars.loc[30, "timestamp"] = bars.loc[30, "timestamp"] + pd.Timedelta(minutes=30)
    return bars


def _corrupt_dtypes(bars):
    bars["volume"] = bars["volume"].astype(str)
    return bars


def _corrupt_missing_column(bars):
    return bars.drop(columns="high")


def _corrupt_too_few_rows(bars):
    return bars[(bars["symbol"] != "ETH-USD") | (bars.index % 10 == 0)]


def _add_stock_bar(bars, timestamp):
    extra = bars[bars["symbol"] == "AAPL"].tail(1).assign(timestamp=pd.Timestamp(timestamp))
    return pd.concat([bars, extra], ignore_index=True)


def _corrupt_after_hours(bars):
    return _add_stock_bar(bars, "2025-06-27 21:00+00:00")  # Friday 17:00 New York


def _corrupt_holiday_bar(bars):
    return _add_stock_bar(bars, "2025-06-19 15:00+00:00")  # Juneteenth


def _corrupt_end_labels(bars):
    stock = bars["symbol"] == "AAPL"
    bars.loc[stock, "timestamp"] += pd.Timedelta(hours=1)  # labels at bar ends, an hour late
    return bars


@pytest.mark.parametrize(
    ("corrupt", "expected_check"),
    [
        (_corrupt_nulls, "close nulls below 1%"),
        (_corrupt_negative_price, "low > 0"),
        (_corrupt_zero_price, "open > 0"),
        (_corrupt_high_below_low, "high >= open"),
        (_corrupt_duplicates, "(symbol, timestamp) unique"),
        (_corrupt_gaps, "missing trading hours below 5%"),
        (_corrupt_misaligned, "timestamps on the hour"),
        (_corrupt_dtypes, "volume is float64"),
        (_corrupt_missing_column, "required columns present"),
        (_corrupt_too_few_rows, "at least 500 rows per symbol"),
        (_corrupt_after_hours, "no bars outside the exchange's trading hours"),
        (_corrupt_holiday_bar, "no bars outside the exchange's trading hours"),
        (_corrupt_end_labels, "no bars outside the exchange's trading hours"),
    ],
)
def test_each_corruption_fails_the_gate_naming_the_expectation(
    simulated_bars, params, corrupt, expected_check
):
    bars = corrupt(simulated_bars.copy())
    result, page = check_bars_quality(bars, params)
    assert expected_check in result["failed"]
    assert "FAILED" in page
    with pytest.raises(DataQualityError, match="Data quality gate failed") as error:
        enforce_quality_gate(bars, result)
    assert expected_check in str(error.value)


def test_stale_data_fails_only_when_freshness_is_on(simulated_bars, params):
    later = {**params, "as_of": "2025-07-05 00:00+00:00"}
    assert check_bars_quality(simulated_bars, later)[0]["success"]
    fresh_required = {**later, "freshness": {"enabled": True, "max_age_hours": 6}}
    result, _ = check_bars_quality(simulated_bars, fresh_required)
    assert result["failed"] == ["newest bar at most 6 h old"]
    record = next(r for r in result["expectations"] if r["check"] == result["failed"][0])
    assert record["unexpected_count"] == 4, "every symbol is stale"


def test_failure_message_quotes_observed_values_and_example_rows(simulated_bars, params):
    bars = _corrupt_negative_price(simulated_bars.copy())
    result, _ = check_bars_quality(bars, params)
    with pytest.raises(DataQualityError) as error:
        enforce_quality_gate(bars, result)
    message = str(error.value)
    assert "1 unexpected of" in message
    assert "'low': -1.0" in message and "'symbol': 'AAPL'" in message


def test_a_return_spike_is_a_warning_not_a_failure(simulated_bars, params):
    bars = simulated_bars.copy()
    spike = bars.index[bars["symbol"] == "BTC-USD"][500]
    bars.loc[spike, ["open", "high", "low", "close"]] *= 1.5
    bars.loc[spike, "high"] = bars.loc[spike, ["open", "high", "close"]].max()
    result, _ = check_bars_quality(bars, params)
    assert result["success"]
    assert any("rolling std" in warning for warning in result["warnings"])
    spike_record = next(r for r in result["expectations"] if "rolling std" in r["check"])
    assert any(
        example["timestamp"] == str(bars.loc[spike, "timestamp"])
        for example in spike_record["examples"]
    )


def _zero_range_record(result: dict) -> dict:
    """The zero-range expectation's record in a validation result."""
    return next(r for r in result["expectations"] if r["check"].startswith("zero-range bars"))


def _flatten(bars: pd.DataFrame, rows: list[int]) -> pd.DataFrame:
    """Make the given rows flat bars: open = high = low = close (the bar's own close)."""
    for row in rows:
        bars.loc[row, ["open", "high", "low"]] = bars.loc[row, "close"]
    return bars


def test_clean_simulated_bars_have_no_zero_range_warning(simulated_bars, params):
    result, _ = check_bars_quality(simulated_bars, params)
    record = _zero_range_record(result)
    assert record["success"] and record["unexpected_count"] == 0
    assert record["check"] not in result["warnings"]
    assert all(row["zero_range_bars"] == 0 for row in result["symbol_summary"])


def test_zero_range_bars_are_a_warning_with_counts_not_a_failure(simulated_bars, params):
    bars = simulated_bars.copy()
    flat = list(bars.index[bars["symbol"] == "ETH-USD"][[300, 1200]])
    bars = _flatten(bars, flat)
    result, page = check_bars_quality(bars, params)
    assert result["success"] and result["failed"] == []
    record = _zero_range_record(result)
    assert record["severity"] == "warning" and not record["success"]
    assert record["check"] == "zero-range bars (high == low) at most 0.0%"
    assert record["check"] in result["warnings"]
    assert record["unexpected_count"] == 2
    assert {example["timestamp"] for example in record["examples"]} == {
        str(bars.loc[row, "timestamp"]) for row in flat
    }
    summary = {row["symbol"]: row for row in result["symbol_summary"]}
    assert summary["ETH-USD"]["zero_range_bars"] == 2
    assert isinstance(summary["ETH-USD"]["zero_range_bars"], int)
    assert summary["ETH-USD"]["zero_range_share"] == pytest.approx(2 / summary["ETH-USD"]["rows"])
    assert {s: row["zero_range_bars"] for s, row in summary.items() if s != "ETH-USD"} == {
        "AAPL": 0,
        "MSFT": 0,
        "BTC-USD": 0,
    }
    assert "PASSED" in page and "zero-range bars (high == low)" in page
    assert "zero_range_bars" in page
    pd.testing.assert_frame_equal(enforce_quality_gate(bars, result), conform_bars(bars))


def test_zero_range_warning_respects_the_share_in_parameters(simulated_bars, params):
    bars = _flatten(simulated_bars.copy(), [10, 20])
    tolerant = {**params, "zero_range_max_share": 0.01}
    result, _ = check_bars_quality(bars, tolerant)
    record = _zero_range_record(result)
    assert record["check"] == "zero-range bars (high == low) at most 1.0%"
    assert record["success"] and record["unexpected_count"] == 2
    assert record["check"] not in result["warnings"]
    assert sum(row["zero_range_bars"] for row in result["symbol_summary"]) == 2


@pytest.mark.skipif(not REAL_SOL.exists(), reason="real SOL-USDT bars not available")
def test_real_sol_halt_bar_is_the_only_zero_range_bar(params):
    bars = pd.read_parquet(REAL_SOL)
    as_of = {**params, "as_of": str(bars["timestamp"].max())}
    result, _ = check_bars_quality(bars, as_of)
    assert result["success"], result["failed"]
    record = _zero_range_record(result)
    assert record["check"] in result["warnings"]
    assert record["unexpected_count"] == 1
    (example,) = record["examples"]
    assert (example["symbol"], example["timestamp"]) == ("SOL-USDT", "2023-03-24 12:00:00+00:00")
    (summary,) = result["symbol_summary"]
    assert summary["zero_range_bars"] == 1


@pytest.mark.skipif(not REAL_IBM.exists(), reason="real IBM bars not available")
def test_real_ibm_has_no_missing_trading_hours_and_passes_the_gate(params):
    bars = pd.read_parquet(REAL_IBM)
    as_of = {**params, "as_of": str(bars["timestamp"].max())}
    result, _ = check_bars_quality(bars, as_of)
    assert result["success"], result["failed"]
    (summary,) = result["symbol_summary"]
    assert summary["missing_hour_ratio"] == 0.0  # 0.0385 under the weekday rule (holidays)
    assert summary["bars_outside_trading_hours"] == 0
