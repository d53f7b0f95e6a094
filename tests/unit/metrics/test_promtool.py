"""``promtool check rules`` accepts the shipped rules file and rejects a broken one."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from dualtrack.broker.metrics.artifacts import RULES_PATH

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None,
                                reason="promtool is not installed (apt-get install prometheus)")


def check_rules(path: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)


def test_promtool_accepts_the_rules_file() -> None:
    result = check_rules(RULES_PATH)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 5 rules found" in result.stdout


def test_promtool_rejects_a_broken_expression(tmp_path: Path) -> None:
    broken = tmp_path / "rules.yaml"
    text = RULES_PATH.read_text()
    assert "dualtrack_backend_up == 0" in text
    broken.write_text(text.replace("dualtrack_backend_up == 0", "dualtrack_backend_up ==", 1))
    result = check_rules(broken)
    assert result.returncode != 0
