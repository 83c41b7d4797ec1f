"""Console logs: Rich on a terminal, one plain line per record anywhere else (Airflow task logs,
CI, `> file`), where Rich would wrap at 80 columns. Kedro configures logging from
conf/logging.yml (Rich) before it reads the project's settings; settings.py then calls
`plain_console_unless_terminal()`. (Kedro's logging config accepts no project handler class.)
Kedro's own per-node lines give way to the project's NodeTimingHook (`without_kedro_node_lines`)."""

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


KEDRO_NODE_LINES = ("Running node: %s", "Completed node: %s")


def _not_a_kedro_node_line(record: logging.LogRecord) -> bool:
    """False for Kedro's own "Running node" and "Completed node" records."""
    return record.msg not in KEDRO_NODE_LINES


def without_kedro_node_lines() -> None:
    """Drop Kedro's per-node start and end lines (the node's, every runner's): the project's
    NodeTimingHook logs both, with the duration. Kedro's errors and progress lines stay."""
    from kedro.runner import AbstractRunner  # noqa: PLC0415

    runners = {runner.__module__ for runner in AbstractRunner.__subclasses__()}
    for name in {"kedro.pipeline.node", *runners}:
        logging.getLogger(name).addFilter(_not_a_kedro_node_line)
