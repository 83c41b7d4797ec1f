"""Model gate for CI: `python -m rps_kedro.gate` exits 1 when any target of the last run's model
is worse than its baseline (return: persistence, volatility: HAR) or than the champion, and names
each; 0 when it was promoted. It prints the comparison report either way.

The decision itself is made by the modelling pipeline (`decide_promotion`) on the latest test
window, challenger, champion and baselines scored on the same rows; this command enforces it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_DECISION = Path("data/08_reporting/model_promotion.json")
DEFAULT_REPORT = Path("data/08_reporting/model_comparison.md")


def gate(decision_path: Path, report_path: Path) -> int:
    """Print the report and the verdict; return the process exit code."""
    if not decision_path.exists():
        print(f"model gate: no decision at {decision_path}; run the modelling pipeline first")  # noqa: T201
        return 2
    decision = json.loads(decision_path.read_text())
    if report_path.exists():
        print(report_path.read_text())  # noqa: T201
    verdict = "PASS" if decision["promote"] else "FAIL"
    print(f"model gate: {verdict}: {decision['reason']}")  # noqa: T201
    for failed in decision.get("failed", []):
        print(f"model gate: worse on {failed}")  # noqa: T201
    return 0 if decision["promote"] else 1


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decision", type=Path, default=DEFAULT_DECISION)
    parser.add_argument("--report", type=Path, default=DEFAULT_REPORT)
    arguments = parser.parse_args(argv)
    return gate(arguments.decision, arguments.report)


if __name__ == "__main__":
    sys.exit(main())
