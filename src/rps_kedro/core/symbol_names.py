"""Symbols as file and folder names (a symbol's partitions, its latest forecast); no pandas, so
the service's definition can use it."""

from __future__ import annotations

from urllib.parse import quote, unquote


def symbol_file_name(symbol: str) -> str:
    """A symbol as one safe file or folder name: percent-encoded, dots and underscores too (no
    `..`, nothing hidden from parquet readers)."""
    if not symbol:
        raise ValueError("an empty symbol has no file name")
    return quote(symbol, safe="").replace(".", "%2E").replace("_", "%5F")


def symbol_from_file_name(name: str) -> str:
    """The symbol a `symbol_file_name` stands for."""
    return unquote(name)
