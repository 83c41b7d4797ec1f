"""Measure a callable's wall time and peak traced memory; write figures as JSON for `make bench`."""

from __future__ import annotations

import json
import math
import os
import platform
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPORT_DIR = Path("data/08_reporting/benchmarks")


def measure(function: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    """Run once; return its result with wall seconds and peak traced MiB (numpy included)."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = function()
        wall = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, {"wall_seconds": round(wall, 3), "peak_memory_mib": round(peak / 2**20, 1)}


def four_digits(value: float | None) -> str:
    """A figure with four significant digits, or n/a when missing or NaN."""
    return "n/a" if value is None or math.isnan(value) else f"{value:.4g}"


def write_figures(name: str, figures: dict[str, Any], report_dir: Path = REPORT_DIR) -> Path:
    """Write one benchmark's figures with the machine they were measured on."""
    report_dir.mkdir(parents=True, exist_ok=True)
    path = report_dir / f"{name}.json"
    machine = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    payload = {
        "benchmark": name,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine,
        **figures,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
