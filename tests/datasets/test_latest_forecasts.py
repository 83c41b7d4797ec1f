"""The latest forecasts: one JSON file per symbol, written only when it changes, other symbols'
files left alone (shards)."""

from pathlib import Path

from rps_kedro.datasets import LatestForecastsDataset


def modified(root: Path) -> dict[str, int]:
    """Every file under `root` (temporaries too) with its modification time (ns)."""
    return {p.name: p.stat().st_mtime_ns for p in root.iterdir()}


def test_latest_forecasts_are_one_file_per_symbol_written_only_when_changed(tmp_path):
    root = tmp_path / "latest_forecasts"
    dataset = LatestForecastsDataset(str(root))
    assert dataset.load() == {} and not dataset.exists()
    first = {s: {"symbol": s, "predicted_close": 1.0} for s in ("BTC-USD", "BRK/B")}
    dataset.save(first)
    assert sorted(modified(root)) == ["BRK%2FB.json", "BTC-USD.json"]
    written = modified(root)

    dataset.save({"BTC-USD": first["BTC-USD"]})  # the same forecast: its file left alone
    shard = {"ETH-USD": {"symbol": "ETH-USD", "predicted_close": 2.0}}
    dataset.save(shard)  # another shard's symbols: the others' files left alone

    assert {name: mtime for name, mtime in modified(root).items() if name in written} == written
    assert sorted(modified(root)) == ["BRK%2FB.json", "BTC-USD.json", "ETH-USD.json"]
    assert dataset.load() == {**first, **shard}
    revised = {"BTC-USD": {"symbol": "BTC-USD", "predicted_close": 3.0}}
    dataset.save(revised)
    assert dataset.load()["BTC-USD"] == revised["BTC-USD"]
