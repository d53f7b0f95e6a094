#!/usr/bin/env python3
"""Write the Helm chart's PrometheusRule from the plain rules file, so both ship the same alerts.

    scripts/prometheus/gen_prometheusrule.py          # rewrite charts/dualtrack/templates/prometheusrule.yaml
    scripts/prometheus/gen_prometheusrule.py --check  # exit 1 when the template is out of date

The rules' own Go templates (``{{ $labels.backend }}``) are escaped for Helm as ``{{`{{ $labels.backend }}`}}``
so that Helm renders them back verbatim. Standard library only (runs before the venv exists).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "charts" / "alerts" / "dualtrack-rules.yaml"
TEMPLATE = REPO / "charts" / "dualtrack" / "templates" / "prometheusrule.yaml"

HEADER = """{{- if .Values.prometheusRule.enabled }}
# GENERATED from charts/alerts/dualtrack-rules.yaml by scripts/prometheus/gen_prometheusrule.py: do not edit.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: {{ include "dualtrack.fullname" . }}
  labels:
    {{- include "dualtrack.labels" . | nindent 4 }}
    {{- if .Values.prometheusRule.labels }}
    {{- toYaml .Values.prometheusRule.labels | nindent 4 }}
    {{- end }}
spec:
"""
FOOTER = "{{- end }}\n"


def escape_for_helm(text: str) -> str:
    """``{{ x }}`` -> ``{{`{{ x }}`}}`` (a Go raw string Helm prints as is)."""
    if "`" in text:
        raise ValueError(f"{RULES}: backticks cannot be escaped for Helm")
    return re.sub(r"\{\{.*?\}\}", lambda match: "{{`" + match.group(0) + "`}}", text)


def render(rules_text: str) -> str:
    """The PrometheusRule template for ``rules_text`` (a rules file whose first key is ``groups:``)."""
    lines = rules_text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("groups:")), None)
    if start is None:
        raise ValueError(f"{RULES}: no top-level 'groups:' key")
    body = "\n".join(f"  {line}" if line.strip() else "" for line in lines[start:])
    return HEADER + escape_for_helm(body) + "\n" + FOOTER


def main(argv: list[str]) -> int:
    wanted = render(RULES.read_text())
    if argv[1:] == ["--check"]:
        if TEMPLATE.exists() and TEMPLATE.read_text() == wanted:
            return 0
        print(f"{TEMPLATE} is out of date: run {Path(__file__).relative_to(REPO)}", file=sys.stderr)
        return 1
    if argv[1:]:
        print(__doc__, file=sys.stderr)
        return 2
    TEMPLATE.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
