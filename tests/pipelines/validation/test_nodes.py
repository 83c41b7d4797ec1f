"""The quality gate, per symbol: each corruption kind of the new bars quarantines its symbol and
names the right expectation, the other symbols are promoted, and no input shortens the history."""

import json
import logging

import numpy as np
import pandas as pd
import pytest

from rps_kedro.core.bars import conform_bars, empty_bars
from rps_kedro.pipelines.validation.nodes import (
    DataQualityError,
    check_bars_quality,
    enforce_quality_gate,
)
from tests.conftest import PROJECT_ROOT, SYMBOLS

REAL_SOL = PROJECT_ROOT.parent / "shared/data/real/SOL-USDT_1h.parquet"
REAL_IBM = PROJECT_ROOT.parent / "shared/data/real/IBM_1h.parquet"
CUT = pd.Timestamp("2025-06-16 00:00", tz="UTC")  # history before, new bars from here (Monday)


@pytest.fixture
def history(simulated_bars) -> pd.DataFrame:
    """The primary bars before this run: every symbol up to CUT."""
    return simulated_bars[simulated_bars["timestamp"] < CUT].reset_index(drop=True)


def judge(history: pd.DataFrame, merged: pd.DataFrame, params: dict) -> tuple[dict, pd.DataFrame]:
    """Run both gate nodes; the primary bars, or the error, and the result."""
    result, page, quarantined = check_bars_quality(history, merged, SYMBOLS, params)
    json.dumps(result)
    assert ("PASSED" if result["success"] else "FAILED") in page
    return result, quarantined


def new_rows(bars: pd.DataFrame, symbol: str) -> pd.Index:
    """Index of a symbol's rows after CUT."""
    return bars.index[(bars["symbol"] == symbol) & (bars["timestamp"] >= CUT)]


def test_clean_new_bars_pass_and_grow_the_primary_bars(history, simulated_bars, params):
    result, quarantined = judge(history, simulated_bars, params)
    assert result["success"] and result["failed"] == []
    assert result["symbol_status"] == dict.fromkeys(SYMBOLS, "passed")
    assert result["new_bars"] == len(simulated_bars) - len(history)
    assert quarantined.empty
    primary = enforce_quality_gate(history, simulated_bars, result)
    pd.testing.assert_frame_equal(primary, conform_bars(simulated_bars))


def test_a_first_run_judges_every_bar(simulated_bars, params):
    result, _ = judge(empty_bars(), simulated_bars, params)
    assert result["symbol_status"] == dict.fromkeys(SYMBOLS, "passed")
    pd.testing.assert_frame_equal(
        enforce_quality_gate(empty_bars(), simulated_bars, result), conform_bars(simulated_bars)
    )


def _set(bars, rows, **values):
    for column, value in values.items():
        bars.loc[rows, column] = value
    return bars


def _null_close(bars):
    return _set(bars, new_rows(bars, "BTC-USD")[5], close=np.nan)


def _negative_low(bars):
    return _set(bars, new_rows(bars, "BTC-USD")[5], low=-1.0)


def _zero_open(bars):
    return _set(bars, new_rows(bars, "BTC-USD")[5], open=0.0)


def _high_below_low(bars):
    row = new_rows(bars, "BTC-USD")[5]
    return _set(bars, row, high=bars.loc[row, "low"] * 0.9)


def _duplicate(bars):
    return pd.concat([bars, bars.loc[new_rows(bars, "BTC-USD")[[5]]]], ignore_index=True)


def _misaligned(bars):
    row = new_rows(bars, "BTC-USD")[5]
    return _set(bars, row, timestamp=bars.loc[row, "timestamp"] + pd.Timedelta(minutes=30))


def _positive_infinity(bars):
    return _set(bars, new_rows(bars, "BTC-USD")[5], high=np.inf)


def _infinite_symbol(bars):
    return _set(bars, new_rows(bars, "BTC-USD"), open=np.inf, high=np.inf, low=np.inf, close=np.inf)


def _scale_prices(bars, rows, factor):
    return _set(
        bars, rows, **{c: bars.loc[rows, c] * factor for c in ["open", "high", "low", "close"]}
    )


def _spike_1000x(bars):
    return _scale_prices(bars, new_rows(bars, "BTC-USD")[[20]], 1000.0)


def _spike_15_percent_reverted(bars):
    return _scale_prices(bars, new_rows(bars, "BTC-USD")[[20]], 0.85)


def _future_bar(bars):
    last = bars.loc[new_rows(bars, "BTC-USD")[-1:]]
    future = last.assign(timestamp=last["timestamp"] + pd.Timedelta(hours=3))
    return pd.concat([bars, future], ignore_index=True)


def _stuck_price(bars):
    rows = new_rows(bars, "BTC-USD")[:200]
    price = bars.loc[rows[0], "close"]
    return _set(bars, rows, open=price, high=price * 1.001, low=price * 0.999, close=price)


def _other_symbols_values(bars):
    btc, eth = new_rows(bars, "BTC-USD"), new_rows(bars, "ETH-USD")
    for column in ["open", "high", "low", "close", "volume"]:
        bars.loc[btc, column] = bars.loc[eth, column].to_numpy()
    return bars


def _hole(symbol, hours):
    def corrupt(bars):
        rows = new_rows(bars, symbol)
        return bars.drop(rows[40 : 40 + hours])

    return corrupt


def _without_volume(bars):
    rows = new_rows(bars, "BTC-USD")
    return bars.assign(volume=bars["volume"].where(~bars.index.isin(rows)))


def _naive_timestamps(bars):
    bars["timestamp"] = bars["timestamp"].astype(object)
    rows = new_rows(bars, "BTC-USD")
    bars.loc[rows, "timestamp"] = [t.tz_localize(None) for t in bars.loc[rows, "timestamp"]]
    return bars


def _text_prices(bars):
    bars["close"] = bars["close"].astype(object)
    rows = new_rows(bars, "BTC-USD")
    bars.loc[rows, "close"] = bars.loc[rows, "close"].map(str)
    return bars


def _revision_beyond_tolerance(bars):
    row = bars.index[(bars["symbol"] == "BTC-USD") & (bars["timestamp"] < CUT)][-10]
    return _scale_prices(bars, [row], 1.05)


def _after_hours(bars):
    last = bars.loc[new_rows(bars, "AAPL")[-1:]]
    return pd.concat([bars, last.assign(timestamp=pd.Timestamp("2025-06-27 21:00+00:00"))])


def _holiday_bar(bars):
    last = bars.loc[new_rows(bars, "AAPL")[-1:]]
    return pd.concat([bars, last.assign(timestamp=pd.Timestamp("2025-06-19 15:00+00:00"))])


def _end_labels(bars):
    rows = new_rows(bars, "AAPL")
    return _set(bars, rows, timestamp=bars.loc[rows, "timestamp"] + pd.Timedelta(hours=1))


@pytest.mark.parametrize(
    ("corrupt", "symbol", "expected_check"),
    [
        (_null_close, "BTC-USD", "close is not null"),
        (_negative_low, "BTC-USD", "low > 0"),
        (_zero_open, "BTC-USD", "open > 0"),
        (_high_below_low, "BTC-USD", "high >= low"),
        (_duplicate, "BTC-USD", "(symbol, timestamp) unique"),
        (_misaligned, "BTC-USD", "timestamps on the hour"),
        (_positive_infinity, "BTC-USD", "values are finite"),
        (_infinite_symbol, "BTC-USD", "values are finite"),
        (
            _spike_1000x,
            "BTC-USD",
            "no spike beyond 20 trailing MADs that the next 2 bars do not confirm",
        ),
        (_spike_1000x, "BTC-USD", "no level shift: close within x1.5 of the previous bar's"),
        (
            _spike_15_percent_reverted,
            "BTC-USD",
            "no spike beyond 20 trailing MADs that the next 2 bars do not confirm",
        ),
        (_future_bar, "BTC-USD", "bar's hour has ended (no future or unfinished bar)"),
        (
            _stuck_price,
            "BTC-USD",
            "close not stuck: at most 12 identical closes in a row with volume",
        ),
        (
            _other_symbols_values,
            "BTC-USD",
            "no level shift: close within x1.5 of the previous bar's",
        ),
        (
            _hole("BTC-USD", 72),
            "BTC-USD",
            "missing trading hours below 5% in the new bars and the last 7 days",
        ),
        (
            _hole("AAPL", 21),
            "AAPL",
            "missing trading hours below 5% in the new bars and the last 7 days",
        ),
        (_without_volume, "BTC-USD", "volume is not null"),
        (_naive_timestamps, "BTC-USD", "timestamp is a timezone-aware datetime"),
        (_text_prices, "BTC-USD", "values are numbers"),
        (_revision_beyond_tolerance, "BTC-USD", "revised prices within 1.0% of the history's"),
        (_after_hours, "AAPL", "no bars outside the exchange's trading hours"),
        (_holiday_bar, "AAPL", "no bars outside the exchange's trading hours"),
        (_end_labels, "AAPL", "no bars outside the exchange's trading hours"),
    ],
)
def test_each_corruption_quarantines_its_symbol_naming_the_expectation(
    history, simulated_bars, params, corrupt, symbol, expected_check
):
    merged = corrupt(simulated_bars.copy())
    result, quarantined = judge(history, merged, params)
    assert result["success"], "one bad symbol of four does not fail the run"
    assert expected_check in result["failed"]
    assert result["symbol_status"] == {
        s: "quarantined" if s == symbol else "passed" for s in SYMBOLS
    }
    summary = {row["symbol"]: row for row in result["symbol_summary"]}
    assert expected_check in summary[symbol]["failed_checks"]
    assert set(quarantined["symbol_label"]) == {symbol}
    assert quarantined["failed_checks"].str.contains(expected_check, regex=False).all()
    primary = enforce_quality_gate(history, merged, result)
    kept = primary[primary["symbol"] == symbol].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, history[history["symbol"] == symbol].reset_index(drop=True))
    for other in set(SYMBOLS) - {symbol}:
        grown = primary[primary["symbol"] == other].reset_index(drop=True)
        expected = simulated_bars[simulated_bars["symbol"] == other].reset_index(drop=True)
        pd.testing.assert_frame_equal(grown, expected)


def test_failure_lists_every_failed_symbol_with_observed_values_and_examples(
    history, simulated_bars, params
):
    merged = _negative_low(simulated_bars.copy())
    for symbol in ["ETH-USD", "AAPL"]:
        merged.loc[new_rows(merged, symbol)[3], "close"] = np.nan
    result, _ = judge(history, merged, params)
    assert not result["success"]
    assert result["failed_symbols"] == ["AAPL", "BTC-USD", "ETH-USD"]
    before = history.copy()
    with pytest.raises(DataQualityError) as error:
        enforce_quality_gate(history, merged, result)
    message = str(error.value)
    assert "failed for 3 of 4 symbols (75% > 50%" in message
    assert "BTC-USD (quarantined)" in message and "low > 0" in message
    assert "1 unexpected of" in message and "'low': -1.0" in message
    assert "AAPL (quarantined)" in message and "close is not null" in message
    pd.testing.assert_frame_equal(history, before)


def test_the_run_fails_when_no_symbol_passes(history, simulated_bars, params):
    merged = simulated_bars[simulated_bars["symbol"] == "BTC-USD"].copy()
    merged = pd.concat([history, _negative_low(merged)], ignore_index=True)
    result, _ = judge(history, merged, params)
    assert result["symbol_status"]["BTC-USD"] == "quarantined"
    assert {result["symbol_status"][s] for s in ["AAPL", "MSFT", "ETH-USD"]} == {"unchanged"}
    assert not result["success"], "the only symbol with new bars failed"
    with pytest.raises(DataQualityError, match="BTC-USD"):
        enforce_quality_gate(history, merged, result)


@pytest.mark.parametrize("label", [None, ""])
def test_null_or_empty_symbols_are_quarantined_apart(history, simulated_bars, params, label):
    merged = simulated_bars.copy()
    stray = merged.loc[new_rows(merged, "ETH-USD")[:10]].assign(symbol=label)
    merged = pd.concat([merged, stray], ignore_index=True)
    result, quarantined = judge(history, merged, params)
    name = "<null>" if label is None else "<empty>"
    assert result["symbol_status"][name] == "quarantined"
    assert "symbol is a configured symbol" in result["failed"]
    assert all(result["symbol_status"][s] == "passed" for s in SYMBOLS)
    assert len(quarantined) == 10
    primary = enforce_quality_gate(history, merged, result)
    pd.testing.assert_frame_equal(primary, conform_bars(simulated_bars))


def test_an_unconfigured_symbol_is_quarantined(history, simulated_bars, params):
    stray = simulated_bars.loc[new_rows(simulated_bars, "ETH-USD")].assign(symbol="DOGE-USD")
    merged = pd.concat([simulated_bars, stray], ignore_index=True)
    result, _ = judge(history, merged, params)
    assert result["symbol_status"]["DOGE-USD"] == "quarantined"
    primary = enforce_quality_gate(history, merged, result)
    assert "DOGE-USD" not in set(primary["symbol"])


def test_a_real_15_percent_crash_confirmed_by_the_next_bars_passes(history, simulated_bars, params):
    merged = simulated_bars.copy()
    crash = new_rows(merged, "BTC-USD")[20:]
    merged = _scale_prices(merged, crash, 0.85)
    merged.loc[crash[0], "high"] = merged.loc[crash[0], "open"] = merged.loc[crash[0] - 1, "close"]
    result, _ = judge(history, merged, params)
    assert result["symbol_status"]["BTC-USD"] == "passed", result["failed"]
    scores = [r for r in result["expectations"] if r["check"].startswith("no spike")]
    assert scores[0]["success"]


def test_an_operator_can_accept_a_flagged_bar_after_inspection(history, simulated_bars, params):
    merged = _spike_15_percent_reverted(simulated_bars.copy())
    flagged = merged.loc[new_rows(merged, "BTC-USD")[20], "timestamp"]
    accepted = {**params, "accepted_bars": [{"symbol": "BTC-USD", "timestamp": str(flagged)}]}
    result, _ = judge(history, merged, accepted)
    assert result["symbol_status"]["BTC-USD"] == "passed", result["failed"]
    other = {**params, "accepted_bars": [{"symbol": "ETH-USD", "timestamp": str(flagged)}]}
    assert judge(history, merged, other)[0]["symbol_status"]["BTC-USD"] == "quarantined"


def test_an_unconfirmable_spike_on_the_newest_bar_waits_for_the_next_run(
    history, simulated_bars, params
):
    merged = _scale_prices(simulated_bars.copy(), new_rows(simulated_bars, "BTC-USD")[[-1]], 0.7)
    result, _ = judge(history, merged, params)
    assert result["symbol_status"]["BTC-USD"] == "quarantined"
    assert result["failed"] == [
        "no spike beyond 20 trailing MADs that the next 2 bars do not confirm"
    ]


@pytest.mark.parametrize(
    "lose",
    [
        pytest.param(lambda bars: bars.iloc[:0], id="empty merged frame"),
        pytest.param(lambda bars: bars[bars["symbol"] != "ETH-USD"], id="one symbol missing"),
        pytest.param(lambda bars: bars.groupby("symbol").tail(100), id="truncated to 100 bars"),
    ],
)
def test_the_primary_bars_only_grow(history, simulated_bars, params, lose, caplog):
    merged = lose(simulated_bars.copy())
    result, _ = judge(history, merged, params)
    assert result["success"]
    with caplog.at_level(logging.INFO):
        primary = enforce_quality_gate(history, merged, result)
    for symbol in SYMBOLS:
        grown = primary[primary["symbol"] == symbol]
        old = history[history["symbol"] == symbol]
        assert len(grown) >= len(old)
        pd.testing.assert_frame_equal(
            grown[grown["timestamp"] < CUT].reset_index(drop=True), old.reset_index(drop=True)
        )
    if merged.empty:
        assert "No new bars for any symbol" in caplog.text
        pd.testing.assert_frame_equal(primary, history)
    else:
        assert "history bars absent from the merged bars were kept" in caplog.text


def test_a_merged_frame_without_symbols_is_refused(history, simulated_bars, params):
    merged = simulated_bars.drop(columns="symbol")
    result, _ = judge(history, merged, params)
    assert not result["success"]
    assert "required columns present" in result["failed"]
    with pytest.raises(DataQualityError, match="<null>"):
        enforce_quality_gate(history, merged, result)


def test_an_empty_snapshot_leaves_the_primary_bars_as_they_were(history, params, caplog):
    result, quarantined = judge(history, history.copy(), params)
    assert result["new_bars"] == 0 and quarantined.empty
    assert set(result["symbol_status"].values()) == {"unchanged"}
    with caplog.at_level(logging.INFO):
        primary = enforce_quality_gate(history, history.copy(), result)
    assert primary is history
    assert "No new bars for any symbol: the primary bars are left as they were" in caplog.text


def test_a_revision_within_tolerance_is_accepted_and_logged(
    history, simulated_bars, params, caplog
):
    merged = simulated_bars.copy()
    row = merged.index[(merged["symbol"] == "ETH-USD") & (merged["timestamp"] < CUT)][-3]
    old_volume = merged.loc[row, "volume"]
    merged.loc[row, "volume"] = old_volume * 1.2
    result, _ = judge(history, merged, params)
    assert result["symbol_status"]["ETH-USD"] == "passed"
    [revision] = result["revisions"]
    assert (revision["column"], revision["old"], revision["new"]) == (
        "volume",
        old_volume,
        old_volume * 1.2,
    )
    with caplog.at_level(logging.INFO):
        primary = enforce_quality_gate(history, merged, result)
    assert "volume revised by the provider from" in caplog.text
    assert primary.loc[primary["symbol"].eq("ETH-USD")].set_index("timestamp").loc[
        merged.loc[row, "timestamp"], "volume"
    ] == pytest.approx(old_volume * 1.2)


def test_a_new_symbol_with_a_short_history_is_warming_up_and_stored(
    history, simulated_bars, params
):
    short = simulated_bars.loc[new_rows(simulated_bars, "ETH-USD")[-100:]]
    history = history[history["symbol"] != "ETH-USD"]
    merged = pd.concat([simulated_bars[simulated_bars["symbol"] != "ETH-USD"], short])
    result, _ = judge(history, merged, params)
    assert result["symbol_status"]["ETH-USD"] == "warming_up"
    assert "at least 500 bars (fewer: warming up)" in result["warnings"]
    assert result["success"] and "ETH-USD" not in result["failed_symbols"]
    primary = enforce_quality_gate(history, merged, result)
    assert (primary["symbol"] == "ETH-USD").sum() == 100


def test_a_configured_symbol_without_any_bar_fails(history, simulated_bars, params):
    merged = simulated_bars[simulated_bars["symbol"] != "ETH-USD"]
    result, _ = judge(history[history["symbol"] != "ETH-USD"], merged, params)
    assert result["symbol_status"]["ETH-USD"] == "failed"
    assert "configured symbol has bars" in result["failed"]


def test_stale_data_fails_only_when_freshness_is_on(history, simulated_bars, params):
    later = {**params, "as_of": "2025-07-05 00:00+00:00"}
    assert judge(history, simulated_bars, later)[0]["success"]
    fresh_required = {**later, "freshness": {"enabled": True, "max_age_hours": 6}}
    result, _ = judge(history, simulated_bars, fresh_required)
    assert result["failed"] == ["newest bar at most 6 h old"]
    assert not result["success"], "every symbol is stale"


def _zero_range_record(result: dict) -> dict:
    """The zero-range expectation's record in a validation result."""
    return next(r for r in result["expectations"] if r["check"].startswith("zero-range bars"))


def test_zero_range_bars_are_a_warning_with_counts_not_a_failure(history, simulated_bars, params):
    merged = simulated_bars.copy()
    flat = list(new_rows(merged, "ETH-USD")[[30, 120]])
    for row in flat:
        merged.loc[row, ["open", "high", "low"]] = merged.loc[row, "close"]
    result, _ = judge(history, merged, params)
    assert result["success"] and result["failed"] == []
    record = _zero_range_record(result)
    assert record["severity"] == "warning" and not record["success"]
    assert record["check"] in result["warnings"] and record["unexpected_count"] == 2
    assert {example["timestamp"] for example in record["examples"]} == {
        str(merged.loc[row, "timestamp"]) for row in flat
    }
    summary = {row["symbol"]: row["zero_range_bars"] for row in result["symbol_summary"]}
    assert summary == {"AAPL": 0, "MSFT": 0, "BTC-USD": 0, "ETH-USD": 2}
    tolerant = {**params, "zero_range_max_share": 0.01}
    assert _zero_range_record(judge(history, merged, tolerant)[0])["success"]


def _real_bars_params(bars: pd.DataFrame, params: dict) -> dict:
    """Validation parameters judging a real series, 'now' one hour after its last bar."""
    return {**params, "as_of": str(bars["timestamp"].max() + pd.Timedelta(hours=1))}


@pytest.mark.skipif(not REAL_SOL.exists(), reason="real SOL-USDT bars not available")
def test_real_sol_passes_with_its_halt_bar_as_the_only_zero_range_warning(params):
    bars = conform_bars(pd.read_parquet(REAL_SOL))
    history = bars[bars["timestamp"] < pd.Timestamp("2023-03-01", tz="UTC")]
    result, _, _ = check_bars_quality(history, bars, ["SOL-USDT"], _real_bars_params(bars, params))
    assert result["symbol_status"] == {"SOL-USDT": "passed"}, result["failed"]
    record = _zero_range_record(result)
    assert record["unexpected_count"] == 1
    (example,) = record["examples"]
    assert (example["symbol"], example["timestamp"]) == ("SOL-USDT", "2023-03-24 12:00:00+00:00")


@pytest.mark.skipif(not REAL_IBM.exists(), reason="real IBM bars not available")
def test_real_ibm_has_no_missing_trading_hours_and_passes_the_gate(params):
    bars = conform_bars(pd.read_parquet(REAL_IBM))
    result, _, _ = check_bars_quality(empty_bars(), bars, ["IBM"], _real_bars_params(bars, params))
    assert result["symbol_status"] == {"IBM": "passed"}, result["failed"]
    (summary,) = result["symbol_summary"]
    assert summary["missing_hour_ratio"] == 0.0  # 0.0385 under the weekday rule (holidays)
    assert summary["bars_outside_trading_hours"] == 0
