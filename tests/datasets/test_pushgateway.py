"""The Pushgateway dataset against a real Pushgateway (Debian `prometheus-pushgateway`) on
loopback: the samples land as gauges of the job, a second push replaces the first, NaN samples
are left out, and an unreachable gateway is a warning, not a failed run."""

import logging
import math

import pandas as pd
import pytest
from kedro.io import DatasetError
from prometheus_client.parser import text_string_to_metric_families

from rps_kedro.datasets import PushgatewayDataset
from tests.support.servers import free_port, http_request, running_pushgateway

pytestmark = pytest.mark.integration
HELP = {"rps_live_skill": "skill", "rps_live_scored_forecasts": "scored"}
LABELS = ["symbol", "model_version", "window", "target"]


def _samples(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["metric", *LABELS, "value"])


def _pushed(url: str) -> dict[tuple, float]:
    """The gateway's samples of job rps_live_scoring, keyed by (name, sorted non-empty labels:
    an empty label is an absent one)."""
    text = http_request(url + "/metrics", timeout=10)[1].decode()
    return {
        (sample.name, tuple(sorted((k, v) for k, v in sample.labels.items() if v))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.labels.get("job") == "rps_live_scoring"
    }


def test_samples_reach_the_pushgateway_and_a_push_replaces_the_last(tmp_path):
    with running_pushgateway(tmp_path) as gateway:
        dataset = PushgatewayDataset(gateway.url, "rps_live_scoring", HELP, LABELS)
        dataset.save(
            _samples(
                [
                    ("rps_live_skill", "BTC-USD", "3", "7d", "return", -0.02),
                    ("rps_live_skill", "BTC-USD", "3", "7d", "volatility", math.nan),
                    ("rps_live_scored_forecasts", "AAPL", "3", "7d", "", 41.0),
                ]
            )
        )
        pushed = _pushed(gateway.url)
        skill = (
            ("job", "rps_live_scoring"),
            ("model_version", "3"),
            ("symbol", "BTC-USD"),
            ("target", "return"),
            ("window", "7d"),
        )
        assert pushed[("rps_live_skill", skill)] == -0.02
        scored = (("job", "rps_live_scoring"), ("model_version", "3"), ("symbol", "AAPL"))
        assert pushed[("rps_live_scored_forecasts", (*scored, ("window", "7d")))] == 41.0
        assert not any(dict(labels).get("target") == "volatility" for _, labels in pushed)
        assert (
            "rps_live_scoring_last_push_timestamp_seconds",
            (("job", "rps_live_scoring"),),
        ) in pushed

        dataset.save(_samples([("rps_live_skill", "ETH-USD", "4", "1d", "return", 0.01)]))
        symbols = {dict(labels).get("symbol") for _, labels in _pushed(gateway.url)}
        assert symbols == {"ETH-USD", None}  # BTC-USD and AAPL are gone with the last push


def test_an_unknown_metric_is_refused_and_an_unreachable_gateway_is_a_warning(caplog):
    dataset = PushgatewayDataset(
        f"http://127.0.0.1:{free_port()}", "rps_live_scoring", HELP, LABELS
    )
    with pytest.raises(DatasetError, match="no help text"):
        dataset.save(_samples([("rps_other", "A", "1", "1d", "", 1.0)]))
    with caplog.at_level(logging.WARNING):
        dataset.save(_samples([("rps_live_skill", "A", "1", "1d", "return", 1.0)]))
    assert "unreachable" in caplog.text
