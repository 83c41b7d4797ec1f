"""Where the prices come from: derived from the configured market source, said in titles."""

from rps_kedro.data_source import configured_data_source, data_source, titled
from rps_kedro.datasets import CryptoCompareDataset, MarketRouterDataset, SimulatedMarketDataset
from tests.conftest import PROJECT_ROOT


def test_the_default_source_is_simulated_and_live_names_its_providers():
    assert configured_data_source(PROJECT_ROOT / "conf", "base") == "simulated"
    live = configured_data_source(PROJECT_ROOT / "conf", "live")  # no API key needed
    assert live == "alpha_vantage+cryptocompare"


def test_a_loaded_source_says_the_same():
    assert data_source(SimulatedMarketDataset(seed=1)) == "simulated"
    routed = MarketRouterDataset(
        stocks={"type": "rps_kedro.datasets.SimulatedMarketDataset"},
        crypto={"type": "rps_kedro.datasets.CryptoCompareDataset"},
    )
    assert data_source(routed) == "cryptocompare+simulated"
    assert data_source(CryptoCompareDataset()) == "cryptocompare"


def test_titles_say_simulated_or_the_provider():
    assert titled("AAPL: close", "simulated") == "SIMULATED data · AAPL: close"
    assert titled("AAPL: close", "alpha_vantage") == "AAPL: close (alpha_vantage data)"
