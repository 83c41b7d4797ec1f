"""GET /forecast/{symbol}: the latest scheduled forecast of a symbol, with its age.

The hourly forecast pipeline (pipelines/forecast) writes each symbol's forecast to its own JSON
file (datasets/latest_forecasts.py); the service reads the asked symbol's file again when it
changes, so a client gets the latest forecast without sending bars. 404 names an unknown symbol
(and the known ones), 503 says that no forecast has been published yet.
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

from rps_kedro.core.symbol_names import symbol_file_name, symbol_from_file_name
from rps_kedro.serving.schemas import ErrorDetail, ErrorResponse

SUFFIX = ".json"


class LatestForecasts:
    """The published forecasts, one file per symbol, each read again whenever it changes."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._read: dict[str, tuple[tuple[int, int, int], dict[str, Any]]] = {}

    def symbols(self) -> list[str]:
        """The symbols with a published forecast."""
        if not self.directory.is_dir():
            return []
        return sorted(
            symbol_from_file_name(path.stem) for path in self.directory.glob(f"[!.]*{SUFFIX}")
        )

    def forecast(self, symbol: str) -> dict[str, Any] | None:
        """The symbol's latest forecast, or None if it has none."""
        path = self.directory / f"{symbol_file_name(symbol)}{SUFFIX}"
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        version = (stat.st_ino, stat.st_mtime_ns, stat.st_size)  # a new file is renamed in
        with self._lock:
            if symbol not in self._read or self._read[symbol][0] != version:
                self._read[symbol] = (version, json.loads(path.read_text()))
            return self._read[symbol][1]


def _error(status: int, message: str, detail: ErrorDetail) -> JSONResponse:
    body = ErrorResponse(error=message, detail=[detail]).model_dump(mode="json")
    return JSONResponse(body, status_code=status)


def age_seconds(served_at: str, now: datetime) -> float:
    """Seconds since a forecast was made (its ISO 8601 `served_at`)."""
    return round((now - datetime.fromisoformat(served_at)).total_seconds(), 1)


def forecast_app(path: Path) -> Starlette:
    """The ASGI app answering GET /{symbol} from the published forecasts' folder."""
    forecasts = LatestForecasts(path)

    async def latest(request: Request) -> JSONResponse:
        symbol = request.path_params["symbol"]
        record = forecasts.forecast(symbol)
        if record is None:
            known = forecasts.symbols()
            if not known:
                detail = ErrorDetail(
                    loc=[], msg="the hourly forecast has not run yet", type="no_forecasts"
                )
                return _error(503, "no scheduled forecast yet", detail)
            detail = ErrorDetail(
                loc=["path", "symbol"],
                msg=f"no scheduled forecast for {symbol!r}; forecasted: {', '.join(known)}",
                type="unknown_symbol",
            )
            return _error(404, "unknown symbol", detail)
        return JSONResponse(
            {**record, "age_seconds": age_seconds(record["served_at"], datetime.now(UTC))}
        )

    return Starlette(routes=[Route("/{symbol}", latest, methods=["GET"])])
