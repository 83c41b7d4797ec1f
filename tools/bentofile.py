"""`python -m tools.bentofile`: rewrite bentofile.yaml's `python.packages` from the pyproject
extra `bento`, pinned to the locked environment (`--check` exits 1 when the file is stale)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from rps_kedro.requirements import pinned

BENTOFILE = Path(__file__).resolve().parents[1] / "bentofile.yaml"
PACKAGES_BLOCK = re.compile(r"(?m)^(  packages:[^\n]*\n)(?:    - [^\n]*\n)*")


def render(bentofile: str, packages: list[str]) -> str:
    """`bentofile` with its python.packages list replaced by `packages`."""
    if not PACKAGES_BLOCK.search(bentofile):
        raise ValueError("bentofile.yaml has no `  packages:` block under python:")
    listed = "".join(f'    - "{package}"\n' for package in packages)
    return PACKAGES_BLOCK.sub(lambda match: match.group(1) + listed, bentofile, count=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, do not write")
    arguments = parser.parse_args(argv)
    current = BENTOFILE.read_text()
    expected = render(current, pinned("bento"))
    if arguments.check:
        if current != expected:
            print("bentofile.yaml is stale: run `make bentofile`", file=sys.stderr)  # noqa: T201
        return int(current != expected)
    BENTOFILE.write_text(expected)
    return 0


if __name__ == "__main__":
    sys.exit(main())
