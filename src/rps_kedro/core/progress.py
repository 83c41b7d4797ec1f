"""Progress of long loops (a backfill's symbols, a backtest's folds): a Rich bar on a terminal,
and in logs (Airflow tasks, CI, files) a plain line at most every `every_seconds`, with items
done / total, elapsed time and ETA."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator, Sequence
from typing import TypeVar

Item = TypeVar("Item")
LOG_EVERY_SECONDS = 10.0


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def progress_line(what: str, done: int, total: int, elapsed: float) -> str:
    """`fetch: 120/1000 symbols, 12s elapsed, ETA 1m28s` (`what` is "<loop> <unit>")."""
    name, unit = what.split(" ", 1)
    eta = _duration(elapsed / done * (total - done)) if done else "unknown"
    return f"{name}: {done}/{total} {unit}, {_duration(elapsed)} elapsed, ETA {eta}"


def tracked(
    items: Sequence[Item],
    what: str,
    logger: logging.Logger,
    every_seconds: float = LOG_EVERY_SECONDS,
) -> Iterator[Item]:
    """Yield the items, showing progress: `what` is "<loop> <unit>", e.g. "fetch symbols"."""
    if sys.stderr.isatty():
        from rich.progress import track  # noqa: PLC0415 (a terminal only)

        yield from track(items, description=what, total=len(items), transient=True)
        return
    started = last = time.monotonic()
    for done, item in enumerate(items, 1):
        yield item
        now = time.monotonic()
        if now - last >= every_seconds:
            logger.info(progress_line(what, done, len(items), now - started))
            last = now
    if time.monotonic() - started >= every_seconds:  # a long loop says when it is done
        logger.info(progress_line(what, len(items), len(items), time.monotonic() - started))
