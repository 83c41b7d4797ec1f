"""Training time: what `make run` runs (the default `kedro run`: 5 simulated symbols x 6 months,
the project's parameters), in a fresh project copy, with each node's duration from the
NodeTimingHook's "node X: done in N s" lines. Goal (issue 16): the whole run <= 3 minutes on
this 2-core machine.

Writes data/08_reporting/benchmarks/training.json.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import write_figures
from tests.conftest import copy_project, kedro_run

GOAL_SECONDS = 180
SIMULATOR_END = "2025-06-01 00:00"  # a fixed window: the same bars every time
NODE_DONE = re.compile(r"node ([\w.]+): done in ([\d.]+) s")


def node_seconds(log: str) -> dict[str, float]:
    """Each node's duration from a run's log, longest first."""
    durations = {name: float(seconds) for name, seconds in NODE_DONE.findall(log)}
    return dict(sorted(durations.items(), key=lambda item: -item[1]))


def run(workdir: Path, *arguments: str) -> dict[str, Any]:
    """One default `kedro run` in a project copy: wall seconds and the nodes' durations."""
    project = copy_project(workdir / "project")
    started = time.perf_counter()
    result = kedro_run(project, "--params", f"simulator_end={SIMULATOR_END}", *arguments)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"kedro run failed:\n{result.stderr[-4000:]}")
    nodes = node_seconds(result.stdout + result.stderr)
    return {
        "wall_seconds": round(wall, 1),
        "nodes_seconds": round(sum(nodes.values()), 1),
        "process_and_session_seconds": round(wall - sum(nodes.values()), 1),
        "nodes": nodes,
        "goal_seconds": GOAL_SECONDS,
        "met": wall <= GOAL_SECONDS,
    }


def main() -> None:
    """The default run at its default size."""
    with tempfile.TemporaryDirectory(prefix="bench-training-") as workdir:
        write_figures("training", run(Path(workdir)))


if __name__ == "__main__":
    main()
