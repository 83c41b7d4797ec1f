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
    failed = ["return: rmse not worse than persistence", "volatility: qlike not worse than har"]
    decision.write_text(
        json.dumps({"promote": False, "reason": "failed: " + "; ".join(failed), "failed": failed})
    )
    assert main(["--decision", str(decision), "--report", str(report)]) == 1
    output = capsys.readouterr().out
    assert "NOT promoted" in output and "model gate: FAIL: failed: return" in output
    assert "model gate: worse on volatility: qlike not worse than har" in output
    decision.write_text(json.dumps({"promote": True, "reason": "every target is not worse"}))
    assert main(["--decision", str(decision), "--report", str(report)]) == 0
