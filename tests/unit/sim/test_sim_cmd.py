"""``dualtrack sim replay`` end to end on the 50-job fixture: table, JSON, HTML report, bad input."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dualtrack.broker.cli.main import app

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "sim" / "philly-rfold-50.csv"
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sim" / "philly-clusters.yaml"


def test_replay_writes_table_json_and_report(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = CliRunner().invoke(app, ["sim", "replay", "--trace", str(FIXTURE), "--clusters", str(EXAMPLE),
                                      "--policy", "live,static,single-pool", "--compress", "20", "--json", str(out),
                                      "--report", str(tmp_path / "rep"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("policy")
    doc = json.loads(out.read_text())
    assert set(doc["policies"]) == {"live", "static", "single-pool"}
    keys = {"jobs", "mean_wait_s", "p50_wait_s", "p95_wait_s", "max_wait_s", "mean_jct_s", "utilization",
            "makespan_s", "jain_fairness", "reroutes"}
    assert keys <= set(doc["policies"]["live"])
    assert doc["policies"]["live"]["jobs"] == 50
    html = (tmp_path / "rep" / "index.html").read_text()
    assert html.count("<svg") >= 5 and "Wait time CDF" in html


def test_unknown_policy_exits_2() -> None:
    result = CliRunner().invoke(app, ["sim", "replay", "--trace", str(FIXTURE), "--clusters", str(EXAMPLE),
                                      "--policy", "magic"])
    assert result.exit_code == 2
    assert "magic" in result.output
