"""The bars contract: casting, sorting, merging with de-duplication."""

import pandas as pd
import pytest

from rps_kedro.core.bars import BAR_COLUMNS, conform_bars, empty_bars, merge_bars


def _bars(symbol: str, hours: list[str], close: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": symbol,
            "timestamp": pd.to_datetime(hours, utc=True),
            "open": close,
            "high": close + 1,
            "low": close - 1,
            "close": close,
            "volume": 10,
        }
    )


def test_empty_bars_has_contract_dtypes():
    frame = empty_bars()
    assert list(frame.columns) == BAR_COLUMNS
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert (frame[["open", "high", "low", "close", "volume"]].dtypes == "float64").all()


def test_conform_bars_casts_sorts_and_converts_to_utc():
    frame = _bars("B", ["2025-01-01 02:00"], 5).iloc[::-1]
    frame = pd.concat([frame, _bars("A", ["2025-01-01 01:00"], 3)])
    frame["timestamp"] = frame["timestamp"].dt.tz_convert("US/Eastern")
    frame["extra"] = 1
    bars = conform_bars(frame)
    assert list(bars.columns) == BAR_COLUMNS
    assert list(bars["symbol"]) == ["A", "B"]
    assert str(bars["timestamp"].dt.tz) == "UTC"
    assert bars["volume"].dtype == "float64"


def test_conform_bars_rejects_naive_timestamps_and_missing_columns():
    naive = _bars("A", ["2025-01-01 01:00"], 3)
    naive["timestamp"] = naive["timestamp"].dt.tz_localize(None)
    with pytest.raises(ValueError, match="timezone-aware"):
        conform_bars(naive)
    with pytest.raises(ValueError, match="volume"):
        conform_bars(naive.drop(columns="volume"))


def test_merge_bars_keeps_update_on_duplicate_keys():
    history = _bars("A", ["2025-01-01 01:00", "2025-01-01 02:00"], 1)
    update = _bars("A", ["2025-01-01 02:00", "2025-01-01 03:00"], 2)
    merged = merge_bars(history, update)
    assert len(merged) == 3
    assert not merged.duplicated(["symbol", "timestamp"]).any()
    assert list(merged["close"]) == [1.0, 2.0, 2.0]


def test_merge_bars_with_empty_sides_and_no_casting():
    update = _bars("A", ["2025-01-01 01:00"], 2)
    update["volume"] = "10"
    assert merge_bars(empty_bars(), update).equals(update)
    assert merge_bars(update, empty_bars()).equals(update)
    assert merge_bars(empty_bars(), empty_bars()).empty


def test_merge_bars_keeps_a_badly_typed_snapshot_as_it_is_for_the_gate():
    history = _bars("A", ["2025-01-01 01:00", "2025-01-01 02:00"], 1)
    naive = _bars("A", ["2025-01-01 03:00"], 2)
    naive["timestamp"] = naive["timestamp"].dt.tz_localize(None)
    text = _bars("B", ["2025-01-01 00:00"], 3).astype({"close": str})
    nameless = _bars("A", ["2025-01-01 04:00"], 4).assign(symbol=None)
    merged = merge_bars(history, pd.concat([naive, text, nameless], ignore_index=True))
    assert len(merged) == 5
    assert list(merged["close"]) == [1, 1, 2, "3", 4]
    assert merged.loc[2, "timestamp"].tzinfo is None, "the naive timestamp is not repaired"
