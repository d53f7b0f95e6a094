"""The PromQL shipped in charts/: every query of the Grafana dashboard and every alert rule.

Callers: tests (catalogue check, promtool, the Prometheus integration test) and the rules generator.
Raises ValueError naming the file and place when a file does not have the expected shape.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

# Shipped inside the package (docs/operations.md); in the checkout these are links to charts/dashboards and
# charts/alerts, the one copy in git.
CHART_FILES = Path(str(files(__package__ or "dualtrack.broker.metrics").joinpath("chart-files")))
DASHBOARD_PATH = CHART_FILES / "dualtrack.json"
RULES_PATH = CHART_FILES / "dualtrack-rules.yaml"
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(.+?)\s*,\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$")


@dataclass(frozen=True)
class Query:
    """One PromQL expression and where it comes from (``panel 'X' target A`` / ``alert Y``)."""

    origin: str
    expr: str
    is_alert: bool = False


def _panels(items: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in items:
        out.append(item)
        out.extend(_panels(item.get("panels", [])))  # collapsed rows nest their panels
    return out


def dashboard_queries(path: Path = DASHBOARD_PATH) -> list[Query]:
    """Every panel target's ``expr`` plus the metric selector of each ``label_values`` variable."""
    try:
        dashboard = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON: {error}") from error
    queries: list[Query] = []
    for panel in _panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            origin = f"panel {panel.get('title')!r} target {target.get('refId')}"
            if "expr" not in target:
                raise ValueError(f"{path}: {origin}: no expr")
            queries.append(Query(origin, target["expr"]))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        text = query.get("query", "") if isinstance(query, dict) else str(query)
        match = _LABEL_VALUES.match(text)
        if match is None:
            raise ValueError(f"{path}: variable {variable.get('name')!r}: only label_values(...) is handled")
        queries.append(Query(f"variable {variable.get('name')!r}", match.group(1)))
    return queries


def load_rules(path: Path = RULES_PATH) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("groups"), list):
        raise ValueError(f"{path}: groups: expected a list of rule groups")
    return data


def rule_queries(path: Path = RULES_PATH) -> list[Query]:
    """Every alerting and recording rule's ``expr``."""
    queries: list[Query] = []
    for group in load_rules(path)["groups"]:
        for rule in group.get("rules", []):
            name = rule.get("alert") or rule.get("record")
            if not name or "expr" not in rule:
                raise ValueError(f"{path}: group {group.get('name')!r}: a rule without a name or expr")
            kind = "alert" if "alert" in rule else "record"
            queries.append(Query(f"{kind} {name}", str(rule["expr"]), is_alert=kind == "alert"))
    return queries
