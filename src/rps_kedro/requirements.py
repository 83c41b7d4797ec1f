"""The packages of a pyproject extra (`model`, `bento`), pinned to the installed (locked) versions:
the MLflow model's pip requirements and bentofile.yaml's list come from here, not retyped."""

from __future__ import annotations

from importlib.metadata import requires, version

from packaging.requirements import Requirement

PROJECT = "rps_kedro"


def extra_packages(extra: str) -> list[str]:
    """The package names pyproject.toml lists under `[project.optional-dependencies] <extra>`."""
    declared = [Requirement(line) for line in requires(PROJECT) or []]
    names = [r.name for r in declared if r.marker and r.marker.evaluate({"extra": extra})]
    if not names:
        raise LookupError(
            f"{PROJECT} declares no extra {extra!r}: reinstall the project after editing"
            " pyproject.toml (make setup, make airflow-setup)"
        )
    return names


def pinned(extra: str) -> list[str]:
    """`name==version` of each package of `extra`, as installed from uv.lock."""
    return [f"{name}=={version(name)}" for name in extra_packages(extra)]
