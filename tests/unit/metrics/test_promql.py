"""The PromQL text helpers: metric names, alert signals, Grafana variables."""

from __future__ import annotations

import pytest

from dualtrack.broker.metrics.promql import metric_names, signal_of, substitute, unresolved_variables


def test_metric_names_skip_quoted_label_values_and_recording_rule_names() -> None:
    expr = 'sum(dualtrack_gpus{state="dualtrack_fake"}) / dualtrack:gpus:sum + rate(dualtrack_jobs_x[5m])'
    assert metric_names(expr) == {"dualtrack_gpus", "dualtrack_jobs_x"}


@pytest.mark.parametrize(
    ("expr", "signal"),
    [
        ("dualtrack_backend_up == 0", "dualtrack_backend_up"),
        ('sum(a{state="x"}) / sum(b{state=~"y|z", c!="d"}) < 0.6',
         'sum(a{state="x"}) / sum(b{state=~"y|z", c!="d"})'),
        ("histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m]))) > 10",
         "histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))"),
        ("sum(x > 3) >= 1", "sum(x > 3)"),
        ("sum(x)", "sum(x)"),
        ('x{reason="a>b"}', 'x{reason="a>b"}'),
    ],
)
def test_signal_of_cuts_the_last_top_level_comparison(expr: str, signal: str) -> None:
    assert signal_of(expr) == signal


def test_substitute_replaces_long_names_first_and_braced_forms() -> None:
    expr = 'rate(x{b=~"$backend"}[$__rate_interval]) + increase(x[${__range}]) + y[$__interval]'
    variables = {"$__rate_interval": "30s", "$__interval": "5s", "$__range": "5m", "$backend": ".*"}
    out = substitute(expr, variables)
    assert out == 'rate(x{b=~".*"}[30s]) + increase(x[5m]) + y[5s]'
    assert unresolved_variables([out]) == set()
    assert unresolved_variables(['x[$__unknown]']) == {"$__unknown"}
