"""Every PromQL expression of the Grafana dashboard and of the alert rules returns data from a real Prometheus
scraping the broker while jobs run on the local (in-memory) clusters.

Alert expressions are checked through their signal (the expression without its threshold comparison), which
must return data whenever the metrics exist; with the activity driver, whose traffic is shaped to break the
SLOs, the alerts themselves must also go pending or firing in Prometheus' rule evaluation.
"""

from __future__ import annotations

import math
import shutil
from typing import Any

import pytest

from dualtrack.broker.metrics.artifacts import Query, dashboard_queries, rule_queries
from dualtrack.broker.metrics.promql import signal_of, substitute, unresolved_variables

from .prom_api import BrokerUnderTest, Prometheus, wait_until

pytestmark = [
    pytest.mark.prometheus,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("prometheus") is None,
                       reason="Debian's prometheus binary is not installed (scripts/prometheus/install.sh)"),
]

SCRAPES_BEFORE_QUERYING = 5  # rate() and histogram_quantile() need a few samples in their window
WAIT_FOR_DATA_S = 120


def expressions() -> dict[str, str]:
    out: dict[str, str] = {}
    for query in (*dashboard_queries(), *rule_queries()):
        out[query.origin] = _runnable(query)
    assert unresolved_variables(out.values()) == set()
    return out


def _runnable(query: Query) -> str:
    expr = substitute(query.expr)
    return signal_of(expr) if query.is_alert else expr


def _finite(result: list[dict[str, Any]]) -> bool:
    return any(math.isfinite(float(sample["value"][1])) for sample in result)


def _scraped_enough(prometheus: Prometheus) -> bool:
    result = prometheus.query('count_over_time(up{job="dualtrack"}[1m])')
    up = prometheus.query('up{job="dualtrack"}')
    return bool(result and up and float(result[0]["value"][1]) >= SCRAPES_BEFORE_QUERYING
                and float(up[0]["value"][1]) == 1)


def test_prometheus_scrapes_the_broker(prometheus: Prometheus) -> None:
    assert wait_until(lambda: _scraped_enough(prometheus), 60), "the broker never came up in Prometheus"
    targets = prometheus.api("targets")["activeTargets"]
    assert [t["health"] for t in targets if t["labels"]["job"] == "dualtrack"] == ["up"]


def test_every_dashboard_and_alert_expression_returns_data(
    prometheus: Prometheus, broker_under_test: BrokerUnderTest
) -> None:
    assert wait_until(lambda: _scraped_enough(prometheus), 60)
    exprs = expressions()
    # Each expression must give a finite number somewhere, not only NaN (a histogram quantile over a window
    # without observations). The one exception: the real broker on in-memory clusters converts no images.
    lacking: dict[str, str] = {}

    def wanted(expr: str, result: list[dict[str, Any]]) -> bool:
        idle = broker_under_test.kind == "serve" and "dualtrack_image_conversion_seconds_bucket" in expr
        return bool(result) if idle else _finite(result)

    def all_answer() -> bool:
        lacking.clear()
        for origin, expr in exprs.items():
            if not wanted(expr, prometheus.query(expr)):
                lacking[origin] = expr
        return not lacking

    wait_until(all_answer, WAIT_FOR_DATA_S, interval_s=2.0)
    assert lacking == {}, f"{len(lacking)} of {len(exprs)} expressions returned no data"


def test_the_rules_evaluate_without_errors(prometheus: Prometheus) -> None:
    assert wait_until(lambda: _scraped_enough(prometheus), 60)
    rules = [rule for group in prometheus.api("rules")["groups"] for rule in group["rules"]]
    assert {rule["name"] for rule in rules} == {q.origin.split(" ", 1)[1] for q in rule_queries()}
    assert wait_until(lambda: all(r.get("lastEvaluation", "").startswith("2") for r in
                                  (x for g in prometheus.api("rules")["groups"] for x in g["rules"])), 30)
    rules = [rule for group in prometheus.api("rules")["groups"] for rule in group["rules"]]
    assert [(rule["name"], rule.get("lastError")) for rule in rules if rule["health"] != "ok"] == []


def test_alerts_go_off_when_the_driver_breaks_the_slos(
    prometheus: Prometheus, broker_under_test: BrokerUnderTest
) -> None:
    if broker_under_test.kind != "driver":
        pytest.skip("only the activity driver shapes traffic to break the SLOs")
    expected = {"DualtrackBackendDown", "DualtrackReconcilerErrors", "DualtrackSchedulingLatencyHigh"}
    active: set[str] = set()

    def went_off() -> bool:
        active.update(alert["labels"]["alertname"] for alert in prometheus.api("alerts")["alerts"]
                      if alert["state"] in ("pending", "firing"))
        return expected <= active

    wait_until(went_off, WAIT_FOR_DATA_S, interval_s=2.0)
    assert expected <= active
    backend_down = next(q.expr for q in rule_queries() if q.origin == "alert DualtrackBackendDown")
    down = prometheus.query(backend_down)
    assert {sample["metric"]["backend"] for sample in down} == {"slurm-b"}


def test_top_reads_the_same_numbers_as_prometheus(
    prometheus: Prometheus, broker_under_test: BrokerUnderTest
) -> None:
    assert wait_until(lambda: _scraped_enough(prometheus), 60)
    from typer.testing import CliRunner

    from dualtrack.broker.cli.top_cmd import app

    result = CliRunner().invoke(app, ["--metrics-url", f"http://{broker_under_test.metrics_target}/metrics",
                                      "--once"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    totals = prometheus.query('sum by (backend) (dualtrack_gpus{state="total"})')
    assert len({s["metric"]["backend"] for s in totals}) >= 2  # one backend per track, whatever their names
    for sample in totals:
        total = float(sample["value"][1])
        row = next(line for line in result.output.splitlines() if sample["metric"]["backend"] in line
                   and "/" in line)
        assert f"/{total:g}" in row
