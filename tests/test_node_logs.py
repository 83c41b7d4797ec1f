"""A `kedro run` off a terminal logs one start and one end line per node, with its duration."""

import re

import pytest

from rps_kedro.pipelines import features, ingestion, validation
from tests.conftest import kedro_run, write_light_parameters

pytestmark = pytest.mark.integration

NODE_LINE = re.compile(r"rps_kedro\.hooks: node (\S+): (started|done in \d+\.\d s)$")


def test_each_node_logs_its_start_and_its_duration_once(project):
    write_light_parameters(project)
    run = kedro_run(
        project,
        "--pipelines",
        "ingestion,validation,features",
        "--params",
        "simulator_end=2025-06-03 00:00",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    output = run.stdout + run.stderr
    lines = [NODE_LINE.search(line) for line in output.splitlines()]
    events = [(match[1], match[2].split(" ")[0]) for match in lines if match]
    pipeline = ingestion.create_pipeline() + validation.create_pipeline()
    pipeline += features.create_pipeline()
    names = {node.name for node in pipeline.nodes}
    assert sorted(events) == sorted(
        [(name, "started") for name in names] + [(name, "done") for name in names]
    )
    for name in names:
        assert events.index((name, "started")) < events.index((name, "done"))
    assert "Running node:" not in output and "Completed node:" not in output
    assert "Completed 1 out of" in output, "Kedro's progress lines stay"
