"""Checks across the bars of a request, vectorised: enough bars for the model's lookback,
timestamps on the hour, ascending, unique and hourly-spaced, consistent OHLC (the rules of
core/bar_rules.py, which the quality gate evaluates with Great Expectations) and no implausible
price move within a bar or from one bar to the next (serving.limits.max_price_move_factor).

Each failed check names the first offending field (`bars[12].high`) and the reason. The bars
come out as numpy columns, which is also how the model's input frame is built (inference.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from rps_kedro.core.bar_rules import (
    SECONDS_PER_HOUR,
    first_implausible_move,
    first_violation,
    seconds_past_hour,
)
from rps_kedro.serving.schemas import Bar, ErrorDetail
from rps_kedro.serving.settings import LimitSettings

NANOSECONDS_PER_SECOND = 10**9
Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class BarColumns:
    """One symbol's bars as columns: UTC epoch nanoseconds and float64 values."""

    timestamp_ns: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def tail(self, length: int) -> BarColumns:
        """The last `length` bars."""
        return BarColumns(*(getattr(self, name)[-length:] for name in self.__dataclass_fields__))


class InvalidInput(ValueError):
    """Bad input: the errors name each field and reason."""

    def __init__(self, errors: list[ErrorDetail]):
        super().__init__("; ".join(f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in errors))
        self.errors = errors


def error(loc: Loc, msg: str, kind: str) -> ErrorDetail:
    return ErrorDetail(loc=list(loc), msg=msg, type=kind)


def _epoch_seconds(moment: datetime) -> float:
    """Seconds since 1970 UTC; a naive datetime is UTC."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def bar_columns(bars: list[Bar]) -> tuple[np.ndarray, BarColumns]:
    """Epoch seconds (float) and the columns (nanoseconds only valid where seconds are)."""
    seconds = np.fromiter((_epoch_seconds(bar.timestamp) for bar in bars), float, len(bars))
    whole = np.where(np.isfinite(seconds), np.floor(seconds), 0).astype(np.int64)
    values = {
        name: np.fromiter((getattr(bar, name) for bar in bars), float, len(bars))
        for name in ("open", "high", "low", "close", "volume")
    }
    return seconds, BarColumns(timestamp_ns=whole * NANOSECONDS_PER_SECOND, **values)


def _first(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None


def _timestamp_errors(
    seconds: np.ndarray, limits: LimitSettings, max_gap_hours: int, loc: Loc
) -> list[ErrorDetail]:
    errors = []
    earliest = limits.earliest_timestamp.timestamp()
    latest = limits.latest_timestamp.timestamp()
    if (i := _first((seconds < earliest) | (seconds >= latest))) is not None:
        return [
            error(
                (*loc, "bars", i, "timestamp"),
                f"outside the supported range [{_iso(earliest)}, {_iso(latest)})",
                "timestamp_range",
            )
        ]
    if (i := _first(seconds_past_hour(seconds) != 0)) is not None:
        errors.append(
            error(
                (*loc, "bars", i, "timestamp"),
                f"{_iso(seconds[i])} is not the start of an hour: hourly bars start on the hour",
                "timestamp_not_hourly",
            )
        )
    steps = np.diff(seconds)
    if (i := _first(steps < 0)) is not None:
        errors.append(
            error(
                (*loc, "bars", i + 1, "timestamp"),
                f"{_iso(seconds[i + 1])} is earlier than bars[{i}].timestamp {_iso(seconds[i])}:"
                " bars must be in ascending time order",
                "timestamp_unordered",
            )
        )
    if (i := _first(steps == 0)) is not None:
        errors.append(
            error(
                (*loc, "bars", i + 1, "timestamp"),
                f"{_iso(seconds[i + 1])} duplicates bars[{i}].timestamp: one bar per hour",
                "timestamp_duplicate",
            )
        )
    if (i := _first(steps > max_gap_hours * SECONDS_PER_HOUR)) is not None:
        errors.append(
            error(
                (*loc, "bars", i + 1, "timestamp"),
                f"{_iso(seconds[i + 1])} is {steps[i] / SECONDS_PER_HOUR:g} h after the previous"
                f" bar; consecutive hourly bars of this symbol are at most {max_gap_hours} h apart",
                "timestamp_not_hourly",
            )
        )
    return errors


def _ohlc_errors(columns: BarColumns, max_move_factor: float, loc: Loc) -> list[ErrorDetail]:
    values = vars(columns)
    if (violation := first_violation(values)) is not None:
        rule, i = violation
        return [error((*loc, "bars", i, rule.field), rule.reason(values, i), rule.code)]
    if (move := first_implausible_move(values, max_move_factor)) is not None:
        i, field, reason = move
        return [error((*loc, "bars", i, field), reason, "implausible_price_move")]
    return []


def check_bars(
    bars: list[Bar],
    *,
    lookback: int,
    max_gap_hours: int,
    limits: LimitSettings,
    loc: Loc = (),
) -> BarColumns:
    """The bars as columns, or InvalidInput naming each failed check's first field."""
    errors = []
    if len(bars) < lookback:
        errors.append(
            error(
                (*loc, "bars"),
                f"{len(bars)} bars given; the model needs at least {lookback} consecutive hourly"
                " bars of the symbol (its feature lookback)",
                "too_few_bars",
            )
        )
    seconds, columns = bar_columns(bars)
    errors += _timestamp_errors(seconds, limits, max_gap_hours, loc)
    errors += _ohlc_errors(columns, limits.max_price_move_factor, loc)
    if errors:
        raise InvalidInput(errors)
    return columns
