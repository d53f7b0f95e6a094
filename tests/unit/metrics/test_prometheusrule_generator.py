"""scripts/prometheus/gen_prometheusrule.py: the chart's PrometheusRule template is generated from the plain
rules file and up to date; alert templates are escaped for Helm. (The rendered chart itself is checked with
real helm in tests/integration/chart.)"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
GENERATOR = REPO_ROOT / "scripts" / "prometheus" / "gen_prometheusrule.py"


def test_the_prometheusrule_template_is_up_to_date() -> None:
    result = subprocess.run([sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_generator_escapes_alert_templates_for_helm() -> None:
    spec = importlib.util.spec_from_file_location("gen_prometheusrule", GENERATOR)
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    text = generator.render("# header\ngroups:\n  - name: g\n    rules: []  # {{ $value }}\n")
    assert "    rules: []  # {{`{{ $value }}`}}\n" in text
    assert text.startswith("{{- if .Values.prometheusRule.enabled }}") and text.endswith("{{- end }}\n")


