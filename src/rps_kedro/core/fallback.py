"""Refuse to extrapolate: when too many of a forecast's features lie outside the range the model
was trained on, it carries a baseline's forecast of each target instead of the learned one and
says so (`fallback`, `fallback_reason`). The service's answers and the scheduled forecasts apply
the same rule with the same settings (`fallback:` in conf/base/globals.yml).

The baseline is HAR by default: no change for the return, log-HAR for the volatility, the
references the promotion rule and live scoring compare the model with; its forecasts for the
same bar come with every prediction (`Forecaster.baseline_forecasts`). Prices and volatilities
are never extrapolated silently.
"""

from __future__ import annotations

import math
from typing import Any


def with_fallback(
    prediction: dict[str, Any],
    baselines: dict[str, float],
    max_out_of_range_share: float,
    baseline: str,
) -> dict[str, Any]:
    """The prediction as served: unchanged, or with the baseline's forecasts and the reason
    (`baselines` holds `<baseline>_log_return` and `<baseline>_volatility`)."""
    share = prediction["out_of_range_share"]
    if share <= max_out_of_range_share:
        return {**prediction, "fallback": False, "fallback_reason": None}
    log_return = baselines[f"{baseline}_log_return"]
    return {
        **prediction,
        "predicted_log_return": log_return,
        "predicted_close": prediction["close"] * math.exp(log_return),
        "predicted_volatility": baselines[f"{baseline}_volatility"],
        "clipped_targets": [],
        "fallback": True,
        "fallback_reason": (
            f"{share:.0%} of the features are outside the training range (more than"
            f" {max_out_of_range_share:.0%}): the {baseline} baseline's forecast, not the model's"
        ),
    }
