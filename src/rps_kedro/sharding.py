"""Symbol shards: the hourly refresh split over workers, each shard a stable share of the symbols.

A symbol's shard is its name's CRC-32 modulo the shard count: the same on every machine and in
every process, whatever the symbol list, so a shard's datasets and its parameters agree. A run
is one shard when Kedro gets the runtime parameters ``shard_index`` and ``shard_count`` (the
data-refresh DAG's mapped tasks pass them); without them it is the only shard, all symbols.
"""

from __future__ import annotations

import logging
import zlib
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog

logger = logging.getLogger(__name__)
SYMBOLS_PARAMETER = "params:ingestion.symbols"
SHARDING_PARAMETER = "params:sharding"


def shard_of(symbol: str, count: int) -> int:
    """The shard (0 … count - 1) that a symbol belongs to."""
    return zlib.crc32(symbol.encode()) % count


def shard_symbols(symbols: list[str], index: int, count: int) -> list[str]:
    """The symbols of shard ``index`` of ``count``, in their configured order."""
    if not 0 <= index < count:
        raise ValueError(f"shard_index {index} is not in 0 … {count - 1} (shard_count {count})")
    return [symbol for symbol in symbols if shard_of(symbol, count) == index]


class ShardSymbolsHook:
    """In a shard's run, every node sees only that shard's symbols in `ingestion.symbols`."""

    @hook_impl
    def after_catalog_created(self, catalog: DataCatalog, parameters: dict[str, Any]) -> None:
        """Narrow the symbols parameter to the shard given by the runtime parameters."""
        sharding = parameters.get(SHARDING_PARAMETER, {"index": 0, "count": 1})
        index, count = int(sharding["index"]), int(sharding["count"])
        if count == 1 or SYMBOLS_PARAMETER not in parameters:
            return
        symbols = shard_symbols(parameters[SYMBOLS_PARAMETER], index, count)
        catalog[SYMBOLS_PARAMETER] = symbols
        logger.info(
            "shard %d of %d: %d symbols (%s)", index, count, len(symbols), ", ".join(symbols)
        )
