"""The rules every bar obeys, declared once: the quality gate evaluates them with Great
Expectations over each symbol's new bars (pipelines/validation/expectations.py), the service
with numpy over a request's bars (serving/request_checks.py and the request schema's bounds).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

SECONDS_PER_HOUR = 3600
PRICE_COLUMNS = ("open", "high", "low", "close")


@dataclass(frozen=True)
class AtLeast:
    """`above` >= `below` in every bar; a violation is reported on `field` as `code`."""

    above: str
    below: str
    field: str
    code: str

    @property
    def description(self) -> str:
        return f"{self.above} >= {self.below}"

    def violated(self, bars: Mapping[str, np.ndarray]) -> np.ndarray:
        """True for each bar that breaks the rule."""
        return bars[self.above] < bars[self.below]

    def reason(self, bars: Mapping[str, np.ndarray], row: int) -> str:
        """Why bar `row` breaks the rule, with its values."""
        return (
            f"{self.above} {bars[self.above][row]:g} is below {self.below}"
            f" {bars[self.below][row]:g} of the same bar"
        )


@dataclass(frozen=True)
class LowerBound:
    """`column` above `minimum` (or at it, unless `strict`) in every bar."""

    column: str
    minimum: float
    strict: bool

    @property
    def description(self) -> str:
        return f"{self.column} {'>' if self.strict else '>='} {self.minimum:g}"

    def field_constraint(self) -> dict[str, float]:
        """The bound as pydantic's Field argument (`gt` or `ge`)."""
        return {"gt" if self.strict else "ge": self.minimum}


OHLC_ORDER = (
    AtLeast("high", "low", field="high", code="high_below_low"),
    AtLeast("high", "open", field="high", code="high_below_open_close"),
    AtLeast("high", "close", field="high", code="high_below_open_close"),
    AtLeast("open", "low", field="low", code="low_above_open_close"),
    AtLeast("close", "low", field="low", code="low_above_open_close"),
)
VALUE_BOUNDS = {
    **{column: LowerBound(column, 0.0, strict=True) for column in PRICE_COLUMNS},
    "volume": LowerBound("volume", 0.0, strict=False),
}
ON_THE_HOUR = "timestamps on the hour"
UNIQUE_KEYS = "(symbol, timestamp) unique"


def seconds_past_hour(epoch_seconds: np.ndarray) -> np.ndarray:
    """Seconds since the start of each timestamp's UTC hour (0 for an hourly bar's start)."""
    return np.mod(epoch_seconds, SECONDS_PER_HOUR)


def first_violation(bars: Mapping[str, np.ndarray]) -> tuple[AtLeast, int] | None:
    """The first OHLC rule the bars break and the first bar that breaks it, if any."""
    for rule in OHLC_ORDER:
        rows = np.flatnonzero(rule.violated(bars))
        if len(rows):
            return rule, int(rows[0])
    return None


def first_implausible_move(
    bars: Mapping[str, np.ndarray], max_factor: float
) -> tuple[int, str, str] | None:
    """The first bar whose prices move by more than `max_factor` (up or down) within the bar
    (high / low) or from the previous bar's close to its open: (row, field, reason). A move
    that large in one hour is a unit change, a bad split adjustment or a corrupt value; the
    model's features would turn it into extrapolated forecasts."""
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        within = bars["high"] / bars["low"]
        gap = bars["open"][1:] / bars["close"][:-1]
        gap = np.maximum(gap, 1.0 / gap)
    candidates = []
    if len(rows := np.flatnonzero(~(within <= max_factor))):
        row = int(rows[0])
        reason = (
            f"high {bars['high'][row]:g} is {within[row]:.3g} times low {bars['low'][row]:g}"
            f" of the same bar: at most {max_factor:g} times within an hour"
        )
        candidates.append((row, "high", reason))
    if len(rows := np.flatnonzero(~(gap <= max_factor))):
        row = int(rows[0]) + 1
        reason = (
            f"open {bars['open'][row]:g} is {gap[row - 1]:.3g} times away from the previous"
            f" bar's close {bars['close'][row - 1]:g}: at most {max_factor:g} times in an hour"
        )
        candidates.append((row, "open", reason))
    return min(candidates, default=None)
