"""Where the prices come from, said wherever a price is shown: "simulated" for the embedded
simulator (conf/base), else the provider (conf/live: "alpha_vantage+cryptocompare"). Derived from
the configured `market_source`, the loaded source or its catalog entry, never written by hand."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from rps_kedro.config import load_config

SIMULATOR = "simulator"  # SimulatedMarketDataset.provider
SIMULATED = "simulated"


def label(providers: Iterable[str]) -> str:
    """The data source of these providers: "simulated" for the simulator, else their names."""
    return "+".join(sorted({SIMULATED if name == SIMULATOR else name for name in providers}))


def data_source(source: Any) -> str:
    """The data source of a loaded market source (a router's: its routed sources')."""
    routed = getattr(source, "sources", None)
    return label(s.provider for s in routed.values()) if routed else label([source.provider])


def _leaf_types(config: dict[str, Any]) -> Iterator[str]:
    """The `type` of every dataset in a catalog entry that holds no other dataset."""
    nested = [value for value in config.values() if isinstance(value, dict) and "type" in value]
    if not nested:
        yield config["type"]
    for value in nested:
        yield from _leaf_types(value)


def _provider(dataset_type: str) -> str:
    """The `provider` of a dataset class named by its import path."""
    module, _, name = dataset_type.rpartition(".")
    return getattr(importlib.import_module(module), name).provider


def configured_data_source(conf_source: Path, env: str | None = None) -> str:
    """The data source of the catalog's `market_source` in `env` (no dataset is created, so no
    credentials are needed)."""
    entry = load_config("catalog", conf_source, env)["market_source"]
    return label(_provider(dataset_type) for dataset_type in _leaf_types(entry))


def titled(title: str, source: str) -> str:
    """A title that says where its prices come from: "SIMULATED data · ..." or "... (provider)"."""
    return f"SIMULATED data · {title}" if source == SIMULATED else f"{title} ({source} data)"
