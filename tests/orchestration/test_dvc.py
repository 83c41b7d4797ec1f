"""DVC in a temporary git repository made from the project: `dvc repro` runs the Kedro stages,
`dvc push` to a local remote, the data is removed, `dvc pull` restores it byte for byte, and a
second `dvc repro` with nothing changed runs nothing."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import (
    PROJECT_ROOT,
    copy_project,
    project_environment,
    run_command,
    write_light_parameters,
)

pytestmark = pytest.mark.integration

SIMULATOR_END = "2025-06-01 00:00"
DVC_FILES = ["dvc.yaml", ".dvc/config", ".dvc/.gitignore", ".dvcignore", ".gitignore"]
DVC = Path(sys.executable).parent / "dvc"


def _stages() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]


def _outs(stages: dict) -> list[str]:
    """Every out (and metric/plot file) of every stage, as a path relative to the repository."""
    paths = []
    for stage in stages.values():
        for kind in ("outs", "metrics", "plots"):
            for entry in stage.get(kind, []):
                paths.append(next(iter(entry)) if isinstance(entry, dict) else entry)
    return paths


def _hashes(repo: Path, outs: list[str]) -> dict[str, str]:
    """sha256 of every file under the outs."""
    files = []
    for out in outs:
        path = repo / out
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return {str(f.relative_to(repo)): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def _leaves(tree: object, path: str = "") -> dict[str, object]:
    """Every scalar of a nested JSON document, by its dotted path."""
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in _leaves(sub, f"{path}.{key}").items()}
    return {path: tree}


def _git(repo: Path, *arguments: str) -> str:
    identity = ["-c", "user.name=rps-kedro tests", "-c", "user.email=tests@rps-kedro.invalid"]
    return subprocess.run(
        ["git", *identity, *arguments], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def _dvc_repository(repo: Path) -> Path:
    """A git repository with the project, its DVC files and the simulator pinned in conf/local."""
    copy_project(repo)
    for name in DVC_FILES:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT_ROOT / name, repo / name)
    for layer in (repo / "data").iterdir():
        (layer / ".gitkeep").touch()
    # end: null would simulate up to the current hour, and the data would change every hour.
    market_source = yaml.safe_load((PROJECT_ROOT / "conf/base/catalog.yml").read_text())[
        "market_source"
    ]
    local_catalog = {"market_source": {**market_source, "end": SIMULATOR_END}}
    (repo / "conf/local/catalog.yml").write_text(yaml.safe_dump(local_catalog))
    write_light_parameters(repo)
    _git(repo, "init", "--quiet")
    _git(repo, "add", "--all")
    _git(repo, "commit", "--quiet", "--message", "project with DVC")
    return repo


def test_dvc_repro_push_pull_restores_identical_data_and_a_second_repro_runs_nothing(tmp_path):
    stages, repo, remote = _stages(), _dvc_repository(tmp_path / "repo"), tmp_path / "remote"
    environment = {
        **project_environment(repo),
        "PATH": f"{DVC.parent}{os.pathsep}{os.environ['PATH']}",  # the stages call `kedro`
    }

    def dvc(*arguments: str, timeout: float = 120) -> subprocess.CompletedProcess:
        result = run_command([DVC, *arguments], cwd=repo, env=environment, timeout=timeout)
        assert result.returncode == 0, (
            f"dvc {' '.join(arguments)}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
        return result

    # The committed default remote is a folder next to the repository.
    assert dvc("remote", "list").stdout.split() == [
        "localremote",
        str(tmp_path / "rps-dvc-remote"),
        "(default)",
    ]
    dvc("remote", "modify", "--local", "localremote", "url", str(remote))

    first = dvc("repro", timeout=900).stdout
    for stage in stages:
        assert f"Running stage '{stage}'" in first
    bars = pd.read_parquet(repo / "data/03_primary/bars")
    assert bars["timestamp"].max() == pd.Timestamp(SIMULATOR_END, tz="UTC")
    outs = _outs(stages)
    assert all((repo / out).exists() for out in outs)
    # `dvc metrics show` is a few columns: the served forecast vs its baseline per target
    shown = _leaves(json.loads(dvc("metrics", "show", "--json").stdout))
    assert 6 <= len(shown) <= 8 and any(key.endswith("skill_vs_har") for key in shown), shown

    # The data stays out of git (the project's data/** rule); git sees only the new dvc.lock.
    status = _git(repo, "status", "--porcelain", "--untracked-files=all")
    assert status.splitlines() == ["?? dvc.lock"]
    # Byte-code next to the code deps does not count as a change (.dvcignore).
    (repo / "src/rps_kedro/pipelines/ingestion/__pycache__").mkdir(exist_ok=True)
    (repo / "src/rps_kedro/pipelines/ingestion/__pycache__/nodes.cpython-311.pyc").write_bytes(b"x")
    assert "up to date" in dvc("status").stdout

    dvc("push")
    assert any(remote.rglob("*")), "the remote received the data"
    before = _hashes(repo, outs)
    for out in outs:
        path = repo / out
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    shutil.rmtree(repo / ".dvc/cache")
    dvc("pull")
    assert _hashes(repo, outs) == before

    second = dvc("repro").stdout
    assert "Running stage" not in second
    for stage in stages:
        assert f"Stage '{stage}' didn't change, skipping" in second
    assert "Data and pipelines are up to date." in second
    assert _hashes(repo, outs) == before
