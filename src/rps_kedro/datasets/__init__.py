"""Kedro datasets for market providers and the simulator: the project's only network code."""

from rps_kedro.datasets._http import (
    DeadlineExceededError,
    MissingCredentialsError,
    ProviderError,
    RateLimitError,
)
from rps_kedro.datasets.alpha_vantage import AlphaVantageDataset
from rps_kedro.datasets.base import MarketSourceDataset
from rps_kedro.datasets.binance import BinanceDataset
from rps_kedro.datasets.champion import ChampionModelDataset
from rps_kedro.datasets.cryptocompare import CryptoCompareDataset
from rps_kedro.datasets.latest_forecasts import LatestForecastsDataset
from rps_kedro.datasets.live_skill_registry import LiveSkillRegistryDataset, ModelTestSkillDataset
from rps_kedro.datasets.partitioned_parquet import BarsParquetDataset, PartitionedParquetDataset
from rps_kedro.datasets.prediction_log import PredictionLogDataset
from rps_kedro.datasets.pushgateway import PushgatewayDataset
from rps_kedro.datasets.replay import ReplayMarketDataset
from rps_kedro.datasets.router import MarketRouterDataset
from rps_kedro.datasets.simulator import SimulatedMarketDataset

__all__ = [
    "AlphaVantageDataset",
    "BarsParquetDataset",
    "BinanceDataset",
    "ChampionModelDataset",
    "CryptoCompareDataset",
    "DeadlineExceededError",
    "LatestForecastsDataset",
    "LiveSkillRegistryDataset",
    "MarketSourceDataset",
    "MarketRouterDataset",
    "MissingCredentialsError",
    "ModelTestSkillDataset",
    "PartitionedParquetDataset",
    "PredictionLogDataset",
    "ProviderError",
    "PushgatewayDataset",
    "RateLimitError",
    "ReplayMarketDataset",
    "SimulatedMarketDataset",
]
