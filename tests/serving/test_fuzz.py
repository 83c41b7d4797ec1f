"""Nothing a client sends gets a 5xx: schemathesis fuzzes the service's own OpenAPI spec, and
hypothesis sends well-formed bars with extreme values through the whole model path."""

from __future__ import annotations

import json
import math
import re
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rps_kedro.serving.settings import settings as service_settings
from tests.serving.support import BIN

pytestmark = pytest.mark.integration

SPEC_EXAMPLES = 50  # per operation
MODEL_PATH_EXAMPLES = 25
LOOKBACK = 169
HOUR = 3600
EPOCH_2025 = 1_735_689_600
# The largest move a request's bars may make in an hour: no forecast moves further.
LARGEST_LOG_MOVE = math.log(service_settings().limits.max_price_move_factor)
UNSERVED = {
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.filter_too_much,
    HealthCheck.large_base_example,
}


def test_no_request_generated_from_the_spec_gets_a_server_error(service, tmp_path):
    """`schemathesis run` (all its phases: examples, coverage, fuzzing) against /docs.json."""
    result = subprocess.run(
        [
            str(BIN / "schemathesis"),
            "run",
            f"{service.url}/docs.json",
            "--include-path-regex=^/predict",
            # Only this check: BentoML's spec documents its 400 `detail` as a string while its
            # own pydantic answers (and ours) send a list, so schema conformance of 4xx fails.
            "--checks=not_a_server_error",
            f"--max-examples={SPEC_EXAMPLES}",
            "--workers=1",
            "--no-color",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    summary = result.stdout[-6000:]
    assert result.returncode == 0, summary
    assert re.search(r"\d+ generated, \d+ passed", summary), summary


@st.composite
def extreme_bars(draw) -> dict:
    """Hourly, ordered, OHLC-consistent bars whose values stress the features: tiny or huge
    prices, flat or wild paths, zero or huge volume."""
    count = draw(st.integers(LOOKBACK, LOOKBACK + 3))
    scale = draw(st.sampled_from([1e-9, 1e-4, 1.0, 1e4, 1e10]))
    flat = draw(st.booleans())
    moves = (
        [1.0] * count
        if flat
        else draw(st.lists(st.floats(0.2, 5.0), min_size=count, max_size=count))
    )
    wick = draw(st.sampled_from([0.0, 1e-12, 0.01, 3.0]))
    volume = draw(st.sampled_from([0.0, 1.0, 1e14]))
    start = EPOCH_2025 + HOUR * draw(st.integers(0, 24 * 365))
    price, bars = scale, []
    for index, move in enumerate(moves):
        open_, close = price, price * move
        price = close
        bars.append(
            {
                "timestamp": start + index * HOUR,
                "open": open_,
                "high": max(open_, close) * (1 + wick),
                "low": min(open_, close) / (1 + wick),
                "close": close,
                "volume": volume * (1 + index % 2),
            }
        )
    return {"symbol": draw(st.sampled_from(["BTC-USD", "AAPL", "ETH-USD"])), "bars": bars}


@given(body=extreme_bars())
@settings(max_examples=MODEL_PATH_EXAMPLES, deadline=None, suppress_health_check=list(UNSERVED))
def test_well_formed_bars_with_extreme_values_get_a_sane_answer_or_a_400(service, body):
    status, answer = service.post("/predict", body)
    assert status in (200, 400), answer
    content = json.loads(answer)
    if status == 200:
        assert abs(content["predicted_log_return"]) <= LARGEST_LOG_MOVE, content
        assert 0 < content["predicted_volatility"] <= LARGEST_LOG_MOVE, content
        assert math.isfinite(content["predicted_close"]) and content["predicted_close"] > 0
    else:
        assert all(d["loc"] and d["msg"] for d in content["detail"]), content
