"""Ingestion nodes over the real simulator: incremental fetch and merge."""

import pandas as pd

from rps_kedro.core.bars import empty_bars
from rps_kedro.pipelines.ingestion.nodes import fetch_new_bars, merge_snapshot
from tests.conftest import SYMBOLS


def test_first_fetch_backfills_every_symbol(simulator):
    snapshot = fetch_new_bars(simulator, empty_bars(), SYMBOLS)
    assert set(snapshot["symbol"]) == set(SYMBOLS)
    assert (
        snapshot.groupby("symbol")["timestamp"].max() <= pd.Timestamp("2025-06-30 23:00", tz="UTC")
    ).all()


def test_fetch_asks_only_for_bars_newer_than_history(simulator, simulated_bars):
    cutoff = pd.Timestamp("2025-06-30 12:00", tz="UTC")
    history = simulated_bars[simulated_bars["timestamp"] <= cutoff]
    snapshot = fetch_new_bars(simulator, history, SYMBOLS + ["SPY"])
    crypto = snapshot[snapshot["symbol"] == "BTC-USD"]
    assert crypto["timestamp"].min() == cutoff + pd.Timedelta(hours=1)
    assert len(crypto) == 11
    assert len(snapshot[snapshot["symbol"] == "SPY"]) > 100, "a new symbol gets its backfill"


def test_fetch_with_nothing_new_is_an_empty_contract_frame(simulator, simulated_bars):
    snapshot = fetch_new_bars(simulator, simulated_bars, SYMBOLS)
    assert snapshot.empty
    assert list(snapshot.columns) == list(empty_bars().columns)


def test_merge_snapshot_deduplicates_and_prefers_the_new_fetch(simulated_bars):
    history = simulated_bars.iloc[:-5]
    snapshot = simulated_bars.iloc[-10:].copy()
    snapshot["close"] = snapshot["close"] * 1.01
    merged = merge_snapshot(history, snapshot)
    assert len(merged) == len(simulated_bars)
    assert not merged.duplicated(["symbol", "timestamp"]).any()
    last = merged.set_index(["symbol", "timestamp"]).loc[
        list(snapshot.set_index(["symbol", "timestamp"]).index), "close"
    ]
    assert (last.to_numpy() == snapshot["close"].to_numpy()).all()
