"""GET /forecast/{symbol}: the latest scheduled forecast of a symbol, with its age.

The hourly forecast pipeline (pipelines/forecast) writes its symbols' forecasts to one JSON file
per symbol shard in a folder (`shard-<i>-of-<n>.json`: shards run on different workers); the
service reads them all again when one changes, the newest forecast of a symbol winning, so a
client gets the latest forecast without sending bars. 404 names an unknown symbol (and the known
ones), 503 says that no forecast has been published yet.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from rps_kedro.serving.schemas import ErrorDetail, ErrorResponse


def published_forecasts(folder: Path) -> dict[str, dict[str, Any]] | None:
    """Every shard file's forecasts by symbol, the newest of a symbol winning (a file left by an
    earlier shard count may hold an older one); None before the first publication."""
    files = sorted(Path(folder).glob("*.json"))
    if not files:
        return None
    forecasts: dict[str, dict[str, Any]] = {}
    for file in files:
        for symbol, record in json.loads(file.read_text())["forecasts"].items():
            if symbol not in forecasts or record["served_at"] > forecasts[symbol]["served_at"]:
                forecasts[symbol] = record
    return forecasts


class LatestForecasts:
    """The published forecasts by symbol, read again whenever a shard's file changes."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._lock = threading.Lock()
        self._version: tuple | None = None
        self._forecasts: dict[str, dict[str, Any]] | None = None

    def by_symbol(self) -> dict[str, dict[str, Any]] | None:
        """The forecasts by symbol, or None before the first publication."""
        version = tuple(
            (file.name, stat.st_mtime_ns, stat.st_size)
            for file in sorted(self.folder.glob("*.json"))
            if (stat := file.stat())
        )
        with self._lock:
            if version != self._version:
                self._forecasts = published_forecasts(self.folder)
                self._version = version
            return self._forecasts


def _error(status: int, message: str, detail: ErrorDetail) -> JSONResponse:
    body = ErrorResponse(error=message, detail=[detail]).model_dump(mode="json")
    return JSONResponse(body, status_code=status)


def age_seconds(served_at: str, now: datetime) -> float:
    """Seconds since a forecast was made (its ISO 8601 `served_at`)."""
    return round((now - datetime.fromisoformat(served_at)).total_seconds(), 1)


def forecast_app(folder: Path) -> Starlette:
    """The ASGI app answering GET /{symbol} from the published forecasts' folder."""
    forecasts = LatestForecasts(folder)

    async def latest(request: Request) -> JSONResponse:
        symbol = request.path_params["symbol"]
        table = forecasts.by_symbol()
        if table is None:
            detail = ErrorDetail(
                loc=[], msg="the hourly forecast has not run yet", type="no_forecasts"
            )
            return _error(503, "no scheduled forecast yet", detail)
        if symbol not in table:
            detail = ErrorDetail(
                loc=["path", "symbol"],
                msg=f"no scheduled forecast for {symbol!r}; forecasted: {', '.join(sorted(table))}",
                type="unknown_symbol",
            )
            return _error(404, "unknown symbol", detail)
        record = table[symbol]
        return JSONResponse(
            {**record, "age_seconds": age_seconds(record["served_at"], datetime.now(UTC))}
        )

    return Starlette(routes=[Route("/{symbol}", latest, methods=["GET"])])
