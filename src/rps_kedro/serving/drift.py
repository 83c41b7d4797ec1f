"""Live drift: the share of out-of-range features over a sliding window of recent requests.

A request's share (its features outside the drift reference's training bounds, over all its
features) comes from `predict_next_hour` against the reference stored with the model: O(number
of features). The window keeps the last N shares and a running sum, so adding one is O(1) and
the ratio needs no pass over the window. Each worker process has its own window; the gauge
reports the most recently updated one (prometheus_client multiprocess mode "livemostrecent").
"""

from __future__ import annotations

import threading
from collections import deque


class DriftWindow:
    """Mean of the last `size` out-of-range shares (0 before the first)."""

    def __init__(self, size: int):
        if size < 1:
            raise ValueError("the drift window needs at least one request")
        self._shares: deque[float] = deque(maxlen=size)
        self._sum = 0.0
        self._added = 0
        self._lock = threading.Lock()

    def add(self, share: float) -> float:
        """Add a request's share; return the window's ratio."""
        with self._lock:
            if len(self._shares) == self._shares.maxlen:
                self._sum -= self._shares[0]
            self._shares.append(share)
            self._sum += share
            self._added += 1
            if self._added % self._shares.maxlen == 0:  # amortised O(1): no rounding build-up
                self._sum = sum(self._shares)
            return self._ratio()

    def _ratio(self) -> float:
        return min(max(self._sum / len(self._shares), 0.0), 1.0) if self._shares else 0.0

    @property
    def ratio(self) -> float:
        with self._lock:
            return self._ratio()

    def __len__(self) -> int:
        return len(self._shares)
