"""Refuse to extrapolate: when too many of a request's features lie outside the range the model
was trained on, the answer carries a baseline's forecast of each target instead of the learned
one, says so (`fallback`, `fallback_reason`) and is counted.

The baseline is a setting (`serving.fallback.baseline`, HAR by default: no change for the
return, log-HAR for the volatility, the references the promotion rule and live scoring compare
the model with); its forecasts for the same bar come with every prediction (the bundle computes
them, `Forecaster.baseline_forecasts`). Prices and volatilities are never extrapolated silently.
"""

from __future__ import annotations

import math
from typing import Any

from rps_kedro.serving.settings import FallbackSettings


def with_fallback(
    prediction: dict[str, Any], baselines: dict[str, float], settings: FallbackSettings
) -> dict[str, Any]:
    """The prediction as served: unchanged, or with the baseline's forecasts and the reason."""
    share = prediction["out_of_range_share"]
    if share <= settings.max_out_of_range_share:
        return {**prediction, "fallback": False, "fallback_reason": None}
    log_return = baselines[f"{settings.baseline}_log_return"]
    return {
        **prediction,
        "predicted_log_return": log_return,
        "predicted_close": prediction["close"] * math.exp(log_return),
        "predicted_volatility": baselines[f"{settings.baseline}_volatility"],
        "clipped_targets": [],
        "fallback": True,
        "fallback_reason": (
            f"{share:.0%} of the features are outside the training range (more than"
            f" {settings.max_out_of_range_share:.0%}): the {settings.baseline} baseline's"
            " forecast, not the model's"
        ),
    }
