"""Long loops report items done / total, elapsed time and ETA; in logs, at most every N s."""

import logging

from rps_kedro.core.progress import progress_line, tracked

logger = logging.getLogger("tests.progress")


def test_a_line_says_done_total_elapsed_and_eta():
    assert progress_line("fetch symbols", 120, 1000, 12.0) == (
        "fetch: 120/1000 symbols, 12s elapsed, ETA 1m28s"
    )
    assert progress_line("backtest folds", 0, 4, 0.0).endswith("ETA unknown")


def test_in_logs_every_item_is_yielded_and_reported_at_the_given_interval(caplog):
    with caplog.at_level(logging.INFO, logger="tests.progress"):
        assert list(tracked(["a", "b", "c"], "fetch symbols", logger, every_seconds=0)) == [
            "a",
            "b",
            "c",
        ]
    lines = [record.getMessage() for record in caplog.records]
    assert [line.split(",")[0] for line in lines[:3]] == [
        "fetch: 1/3 symbols",
        "fetch: 2/3 symbols",
        "fetch: 3/3 symbols",
    ]


def test_a_short_loop_says_nothing(caplog):
    with caplog.at_level(logging.INFO, logger="tests.progress"):
        assert list(tracked(range(5), "backtest folds", logger)) == list(range(5))
    assert not caplog.records
