"""Symbol shards: a stable partition of the symbols, and a shard's `kedro run` sees only its own."""

import pandas as pd
import pytest

from rps_kedro.sharding import shard_of, shard_symbols
from tests.conftest import kedro_run

DEFAULT_SYMBOLS = ["AAPL", "MSFT", "SPY", "BTC-USD", "ETH-USD"]


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_shards_split_the_symbols_once_each_in_their_order(count):
    symbols = [f"SYM{number:04d}" for number in range(200)]
    shards = [shard_symbols(symbols, index, count) for index in range(count)]
    assert sorted(sum(shards, [])) == sorted(symbols)
    assert all(shard == [s for s in symbols if s in shard] for shard in shards)
    if count > 1:
        assert min(len(shard) for shard in shards) > 200 / count / 2, "roughly balanced"


def test_a_symbols_shard_does_not_depend_on_the_list_it_is_in():
    for symbol in DEFAULT_SYMBOLS:
        index = shard_of(symbol, 2)
        assert shard_symbols([symbol], index, 2) == [symbol]
        assert symbol in shard_symbols(DEFAULT_SYMBOLS, index, 2)
    assert shard_of("ETH-USD", 2) == 1, "CRC-32, the same on every machine and run"


def test_a_shard_index_outside_the_count_is_refused():
    with pytest.raises(ValueError, match="shard_index 2 is not in 0 … 1"):
        shard_symbols(DEFAULT_SYMBOLS, 2, 2)


@pytest.mark.integration
def test_a_shard_run_fetches_only_its_symbols(project):
    result = kedro_run(
        project,
        "--pipelines",
        "ingestion",
        "--params",
        "simulator_end=2025-06-02 00:00,shard_index=1,shard_count=2",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [snapshot] = (project / "data/01_raw/bars_snapshot/shard-1-of-2").glob("*/*/*.parquet")
    fetched = set(pd.read_parquet(snapshot)["symbol"])
    assert fetched == set(shard_symbols(DEFAULT_SYMBOLS, 1, 2))
    assert fetched and fetched < set(DEFAULT_SYMBOLS)
