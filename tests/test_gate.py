"""The gate command enforces the pipeline's decision through its exit code."""

import json

from rps_kedro.gate import main


def test_missing_decision_is_a_distinct_failure(tmp_path, capsys):
    assert main(["--decision", str(tmp_path / "absent.json")]) == 2
    assert "run the modelling pipeline first" in capsys.readouterr().out


def test_exit_code_follows_the_decision(tmp_path, capsys):
    decision = tmp_path / "decision.json"
    report = tmp_path / "report.md"
    report.write_text("# Model comparison: challenger NOT promoted\n")
    decision.write_text(
        json.dumps({"promote": False, "reason": "failed: beats champion by >= 0.10%"})
    )
    assert main(["--decision", str(decision), "--report", str(report)]) == 1
    output = capsys.readouterr().out
    assert "NOT promoted" in output and "model gate: FAIL: failed: beats champion" in output
    decision.write_text(json.dumps({"promote": True, "reason": "all checks passed"}))
    assert main(["--decision", str(decision), "--report", str(report)]) == 0
