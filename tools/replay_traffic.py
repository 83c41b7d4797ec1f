"""`python -m tools.replay_traffic`: send the running service the requests its clients would have
sent over the last hours, so live scoring has something to score right after `make run`.

For every symbol of the primary bars and each of its last `--hours` bars, one `POST /predict`
with the lookback window (conf/base/parameters_features.yml) ending at that bar, in time order.
The service logs each answer; their next bars are already in the primary bars, so
`kedro run --pipelines live_scoring` scores them at once (the last bar's forecast stays pending
until the next bar arrives). Prints the answers' status counts and the served model version.

`--volatility-factor 8` sends the same bars with eight times their moves: the drift
ratio rises, `RpsDriftRatioHigh` fires, and with the retrain trigger running the loop closes
(README, "Alert -> retrain").
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from rps_kedro.config import load_config
from rps_kedro.core.features import required_lookback

logger = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:3000"
DEFAULT_BARS = Path("data/03_primary/bars")


def bars_payload(bars: pd.DataFrame) -> list[dict[str, Any]]:
    """Bars (the contract's frame) as the service's JSON bars, oldest first."""
    frame = bars.sort_values("timestamp")
    stamps = pd.to_datetime(frame["timestamp"], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        {"timestamp": stamp, "open": o, "high": h, "low": lo, "close": c, "volume": v}
        for stamp, o, h, lo, c, v in zip(
            stamps,
            frame["open"],
            frame["high"],
            frame["low"],
            frame["close"],
            frame["volume"],
            strict=True,
        )
    ]


def widened(bars: pd.DataFrame, factor: float) -> pd.DataFrame:
    """Each symbol's bars with every move times `factor`: log-closes `factor` times further
    from the symbol's first close, and open, high and low `factor` times further (in logs) from
    their bar's close. The same path with `factor` times its volatility: a regime shift the
    drift monitor sees."""
    if factor == 1:
        return bars
    ordered = bars.sort_values(["symbol", "timestamp"])
    first = ordered.groupby("symbol")["close"].transform("first")
    close = first * (ordered["close"] / first) ** factor
    return ordered.assign(
        **{c: close * (ordered[c] / ordered["close"]) ** factor for c in ("open", "high", "low")},
        close=close,
    )


def predict_body(symbol: str, bars: pd.DataFrame) -> dict[str, Any]:
    """A /predict request body for one symbol's bars."""
    return {"symbol": symbol, "bars": bars_payload(bars)}


def recent_requests(bars: pd.DataFrame, hours: int, lookback: int) -> list[dict[str, Any]]:
    """One request per symbol and each of its last `hours` bars (lookback bars ending there),
    oldest bar first."""
    bodies = []
    for symbol, group in bars.sort_values("timestamp").groupby("symbol", sort=True):
        rows = group.reset_index(drop=True)
        for stop in range(max(lookback, len(rows) - hours + 1), len(rows) + 1):
            window = rows.iloc[stop - lookback : stop]
            bodies.append((window["timestamp"].iloc[-1], predict_body(str(symbol), window)))
    return [body for _, body in sorted(bodies, key=lambda item: item[0])]


def post(url: str, body: dict[str, Any], timeout: float = 60) -> tuple[int, dict[str, Any]]:
    """POST a JSON body; the status and the JSON answer (an HTTP error's too)."""
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 (a URL we were given)
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL, help=f"the service (default {DEFAULT_URL})")
    parser.add_argument(
        "--bars", type=Path, default=DEFAULT_BARS, help="primary bars (a parquet file or folder)"
    )
    parser.add_argument("--hours", type=int, default=48, help="bars per symbol to forecast")
    parser.add_argument("--conf", type=Path, default=Path("conf"), help="the project's conf/")
    parser.add_argument(
        "--volatility-factor",
        type=float,
        default=1.0,
        help="every price move times this (a volatility regime shift; default 1: as recorded)",
    )
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    lookback = required_lookback(load_config("parameters", arguments.conf)["features"])
    bars = widened(pd.read_parquet(arguments.bars), arguments.volatility_factor)
    bodies = recent_requests(bars, arguments.hours, lookback)
    statuses: Counter[int] = Counter()
    versions: Counter[str] = Counter()
    for body in bodies:
        status, answer = post(f"{arguments.url}/predict", body)
        statuses[status] += 1
        versions[str(answer.get("model_version"))] += status == 200
    logger.info(
        "%d requests: statuses %s, model versions %s", len(bodies), dict(statuses), dict(versions)
    )
    return 0 if set(statuses) == {200} else 1


if __name__ == "__main__":
    sys.exit(main())
