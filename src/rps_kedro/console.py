"""Console logs: Rich on a terminal, one plain line per record anywhere else (Airflow task logs,
CI, `> file`), where Rich would wrap at 80 columns. Kedro configures logging from
conf/logging.yml (Rich) before it reads the project's settings; settings.py then calls
`plain_console_unless_terminal()`. (Kedro's logging config accepts no project handler class.)"""

from __future__ import annotations

import logging
import sys

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def plain_console_unless_terminal(logger: logging.Logger | None = None) -> None:
    """Replace the Rich handlers of `logger` (the root) by plain stream handlers when stderr is
    not a terminal."""
    from kedro.logging import RichHandler  # noqa: PLC0415

    logger = logger or logging.getLogger()
    if sys.stderr.isatty():
        return
    for handler in [h for h in logger.handlers if isinstance(h, RichHandler)]:
        plain = logging.StreamHandler(sys.stderr)
        plain.setLevel(handler.level)
        plain.setFormatter(logging.Formatter(PLAIN_FORMAT))
        logger.removeHandler(handler)
        logger.addHandler(plain)
