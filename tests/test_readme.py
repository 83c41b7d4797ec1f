"""The README's commands exist: every `make <target>` is a Makefile target listed by `make help`,
every `python -m <module>` can be run."""

import importlib.util
import re
import subprocess

import pytest

from tests.conftest import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()
TARGETS = sorted(set(re.findall(r"(?:`|^)make ([a-z][a-z-]+)", README, re.MULTILINE)) | {"help"})
MODULES = sorted(set(re.findall(r"python -m ([a-z_][a-z_.]*[a-z_])", README)))


def test_the_readme_names_commands():
    assert {"run", "test", "bench", "serve"} <= set(TARGETS)
    assert "tools.replay_traffic" in MODULES


@pytest.fixture(scope="module")
def listed_targets() -> set[str]:
    result = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(re.findall(r"^\s+make (\S+)", result.stdout, re.MULTILINE))


@pytest.mark.parametrize("target", TARGETS)
def test_every_make_target_of_the_readme_exists_and_says_what_it_does(target, listed_targets):
    assert target in listed_targets


@pytest.mark.parametrize("module", MODULES)
def test_every_module_the_readme_runs_exists(module):
    assert importlib.util.find_spec(module) is not None


def test_the_docs_are_in_the_repository_and_every_link_resolves():
    documents = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
    assert {"architecture.md", "data-contracts.md", "model-contract.md", "operations.md"} <= {
        path.name for path in documents
    }
    assert "```mermaid" in (PROJECT_ROOT / "docs/architecture.md").read_text()  # drawn
    for document in documents:
        for target in re.findall(r"\]\(([^)#]+?)\)", document.read_text()):
            if "://" not in target:
                assert (document.parent / target).exists(), f"{document.name}: {target}"
