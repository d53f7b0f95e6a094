"""Just enough PromQL text handling to check dashboards and rules against the exported metrics.

Not a parser: it finds metric names, splits an alert expression at its top-level comparison and
substitutes Grafana's template variables. Callers: the metric-catalogue tests and the Prometheus
integration test.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry

from dualtrack.broker.metrics.vocabulary import PREFIX

_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_NAME = re.compile(rf"(?<![A-Za-z0-9_:]){PREFIX}_[A-Za-z0-9_]+")
_COMPARISONS = ("==", "!=", ">=", "<=", ">", "<")

# What the integration test puts in place of Grafana's variables (a 1 s scrape interval behind them).
TEST_GRAFANA_VARIABLES: Mapping[str, str] = {
    "$__rate_interval": "30s",
    "$__interval": "5s",
    "$__range": "5m",
    "$backend": ".*",
}


def metric_names(expr: str) -> set[str]:
    """Every ``dualtrack_*`` metric name in ``expr`` (quoted label values are ignored)."""
    return set(_NAME.findall(_QUOTED.sub('""', expr)))


def exported_names(registry: CollectorRegistry) -> set[str]:
    """Every sample name ``registry`` can export: counters' ``_total``, histograms' ``_bucket/_count/_sum``.

    Derived from the metric families' types, so a family without any labelled child yet still counts.
    """
    names: set[str] = set()
    for family in registry.collect():
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_count", "_sum"))
        elif family.type == "summary":
            names.update((family.name, f"{family.name}_count", f"{family.name}_sum"))
        else:
            names.add(family.name)
    return names


def signal_of(expr: str) -> str:
    """``expr`` without its last top-level comparison against a threshold (``a / b < 0.6`` -> ``a / b``).

    Alert expressions only return data while they fire; their signal returns data whenever the metrics
    exist. An expression without a top-level comparison is returned unchanged.
    """
    depth, cut, i = 0, -1, 0
    masked = _QUOTED.sub(lambda m: "x" * len(m.group(0)), expr)
    while i < len(masked):
        char = masked[i]
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0:
            op = next((op for op in _COMPARISONS if masked.startswith(op, i)), None)
            if op is not None and not masked.startswith("=~", i) and not masked.startswith("!~", i):
                cut = i
                i += len(op)
                continue
        i += 1
    return expr if cut < 0 else expr[:cut].strip()


def substitute(expr: str, variables: Mapping[str, str] = TEST_GRAFANA_VARIABLES) -> str:
    """``expr`` with Grafana variables (``$name`` and ``${name}``) replaced, longest names first."""
    for name in sorted(variables, key=len, reverse=True):
        bare = name.lstrip("$")
        expr = expr.replace("${" + bare + "}", variables[name]).replace(name, variables[name])
    return expr


def unresolved_variables(exprs: Iterable[str]) -> set[str]:
    """Grafana variables left in ``exprs`` (to fail loudly instead of sending them to Prometheus)."""
    found: set[str] = set()
    for expr in exprs:
        found.update(re.findall(r"\$\{?[A-Za-z_][A-Za-z0-9_]*", expr))
    return found


def unexported_names(exprs: Mapping[str, str], registry: CollectorRegistry) -> dict[str, set[str]]:
    """For each ``origin -> expr``, the ``dualtrack_*`` names it uses that ``registry`` does not export."""
    exported = exported_names(registry)
    missing = {origin: metric_names(expr) - exported for origin, expr in exprs.items()}
    return {origin: names for origin, names in missing.items() if names}
