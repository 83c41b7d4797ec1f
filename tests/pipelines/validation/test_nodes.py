"""The quality gate: each corruption kind fails and names the right expectation; clean data passes."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from rps_kedro.bars import conform_bars
from rps_kedro.pipelines.validation.nodes import (
    DataQualityError,
    check_bars_quality,
    enforce_quality_gate,
)
from tests.conftest import PROJECT_ROOT, SIMULATION_END


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
