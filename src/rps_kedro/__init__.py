"""rps-kedro: Real-time Predictive System for hourly market bars."""

__version__ = "0.1.0"
