"""bentofile.yaml's package list is generated from pyproject's extra `bento` and kept in step."""

from __future__ import annotations

import yaml

from rps_kedro.requirements import pinned
from tools.bentofile import BENTOFILE, main, render


def test_the_committed_bentofile_lists_the_locked_bento_extra():
    assert main(["--check"]) == 0, "bentofile.yaml is stale: run `make bentofile`"
    assert yaml.safe_load(BENTOFILE.read_text())["python"]["packages"] == pinned("bento")


def test_render_replaces_only_the_package_list():
    bentofile = 'python:\n  packages:  # generated\n    - "old==1"\n    - "gone==2"\nenvs: []\n'

    rendered = render(bentofile, ["new==3"])

    assert rendered == 'python:\n  packages:  # generated\n    - "new==3"\nenvs: []\n'
