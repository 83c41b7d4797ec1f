"""Technical indicators as vectorised formulas over per-symbol columns (see per_symbol)."""

from __future__ import annotations

import numpy as np

from rps_kedro.core.per_symbol import SymbolRows, pick, shift, weighted_mean

GARMAN_KLASS_CLOSE_OPEN_WEIGHT = 2 * np.log(2) - 1
PARKINSON_SCALE = 4 * np.log(2)
RSI_SCALE = 100.0
RSI_WITHOUT_MOVES = 50.0


def log_returns(close: np.ndarray, rows: SymbolRows) -> np.ndarray:
    """Log return of each bar from the symbol's previous close (NaN on its first bar)."""
    log_close = np.log(close)
    return log_close - shift(log_close, rows, 1)


def garman_klass_volatility(
    open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray
) -> np.ndarray:
    """Garman-Klass volatility of each bar from its own OHLC."""
    variance = (
        0.5 * np.log(high / low) ** 2 - GARMAN_KLASS_CLOSE_OPEN_WEIGHT * np.log(close / open_) ** 2
    )
    return np.sqrt(variance)


def parkinson_volatility(high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Parkinson volatility of each bar from its high-low range."""
    return np.sqrt(np.log(high / low) ** 2 / PARKINSON_SCALE)


def true_range(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, rows: SymbolRows
) -> np.ndarray:
    """Largest of the bar's range and its gaps from the previous close (NaN on the first bar)."""
    previous_close = shift(close, rows, 1)
    return np.maximum.reduce(
        [high - low, np.abs(high - previous_close), np.abs(low - previous_close)]
    )


def relative_strength_index(close: np.ndarray, rows: SymbolRows, weights: np.ndarray) -> np.ndarray:
    """RSI (0-100) from weighted means of price gains and losses; 50 when the price never moved."""
    change = close - shift(close, rows, 1)
    gains = weighted_mean(np.maximum(change, 0.0), rows, weights)
    losses = weighted_mean(np.maximum(-change, 0.0), rows, weights)
    moves = gains + losses
    with np.errstate(divide="ignore", invalid="ignore"):
        rsi = RSI_SCALE * (gains / moves)
    rsi[moves == 0] = RSI_WITHOUT_MOVES
    return rsi


def zscore(values: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Standard score, 0 where the spread is 0 (NaN stays NaN)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = (values - mean) / std
    scores[std == 0] = 0.0
    return scores


def cyclical(values: np.ndarray, period: int) -> tuple[np.ndarray, np.ndarray]:
    """Sine and cosine of a value on a cycle of `period`, so the cycle's ends meet."""
    angle = 2 * np.pi * values / period
    return np.sin(angle), np.cos(angle)


def moving_average_convergence_divergence(
    close: np.ndarray,
    rows: SymbolRows,
    fast_weights: np.ndarray,
    slow_weights: np.ndarray,
    signal_weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """MACD line (fast minus slow exponential mean, over the close) and its signal line (a mean
    of the line: the line is computed at every row, both are given at the wanted rows)."""
    every = rows.everywhere
    line = weighted_mean(close, every, fast_weights) - weighted_mean(close, every, slow_weights)
    line /= close
    return pick(line, rows), weighted_mean(line, rows, signal_weights)
