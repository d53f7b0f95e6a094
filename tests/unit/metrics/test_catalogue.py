"""Every metric the dashboard and the alert rules name is one BrokerMetrics exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dualtrack.broker.metrics import BrokerMetrics
from dualtrack.broker.metrics.artifacts import DASHBOARD_PATH, Query, dashboard_queries, rule_queries
from dualtrack.broker.metrics.promql import exported_names, substitute, unexported_names, unresolved_variables


def _by_origin(queries: list[Query]) -> dict[str, str]:
    return {query.origin: query.expr for query in queries}


def test_the_dashboard_names_only_exported_metrics() -> None:
    queries = dashboard_queries()
    assert len(queries) > 20
    assert unexported_names(_by_origin(queries), BrokerMetrics().registry) == {}


def test_the_alert_rules_name_only_exported_metrics() -> None:
    queries = rule_queries()
    assert {q.origin for q in queries} >= {
        "alert DualtrackSchedulingLatencyHigh", "alert DualtrackJobsPendingSustained",
        "alert DualtrackGPUUtilizationLow", "alert DualtrackBackendDown", "alert DualtrackReconcilerErrors",
    }
    assert unexported_names(_by_origin(queries), BrokerMetrics().registry) == {}


def test_a_dashboard_naming_an_unknown_metric_is_caught(tmp_path: Path) -> None:
    dashboard = json.loads(DASHBOARD_PATH.read_text())
    bad = "sum(dualtrack_gpu_total) + sum(rate(dualtrack_jobs_total[5m]))"
    dashboard["panels"][1]["targets"][0]["expr"] = bad
    broken = tmp_path / "dashboard.json"
    broken.write_text(json.dumps(dashboard))
    missing = unexported_names(_by_origin(dashboard_queries(broken)), BrokerMetrics().registry)
    assert list(missing.values()) == [{"dualtrack_gpu_total", "dualtrack_jobs_total"}]


def test_histogram_and_counter_suffixes_count_as_exported() -> None:
    names = exported_names(BrokerMetrics().registry)
    assert {"dualtrack_scheduling_latency_seconds_bucket", "dualtrack_scheduling_latency_seconds_count",
            "dualtrack_scheduling_latency_seconds_sum", "dualtrack_reroutes_total", "dualtrack_jobs",
            "dualtrack_gpus"} <= names
    assert "dualtrack_scheduling_latency_seconds" not in names  # only its suffixed series exist


def test_every_dashboard_variable_is_resolved_for_tests() -> None:
    exprs = [substitute(q.expr) for q in dashboard_queries()]
    assert unresolved_variables(exprs) == set()


def test_dashboard_panels_have_unique_ids_a_datasource_and_a_place() -> None:
    dashboard = json.loads(DASHBOARD_PATH.read_text())
    panels = dashboard["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert panel["targets"], panel["title"]


@pytest.mark.parametrize("title", [
    "GPU allocation per cluster and GPU type", "GPU utilization (allocated / total)",
    "Pending jobs per queue", "Scheduling latency p50 / p99 (accepted -> backend accepted)",
    "Queue wait p50 / p99 (accepted -> running)",
    "Routing split (placements per cluster)", "Reroutes", "Retries", "Backend health", "Reconciler errors",
])
def test_the_dashboard_has_the_panels_the_issue_asks_for(title: str) -> None:
    titles = {panel["title"] for panel in json.loads(DASHBOARD_PATH.read_text())["panels"]}
    assert title in titles


def test_docs_operations_describes_every_exported_metric() -> None:
    text = (Path(__file__).resolve().parents[3] / "docs" / "operations.md").read_text()
    families = {f.name + ("_total" if f.type == "counter" else "") for f in BrokerMetrics().registry.collect()}
    assert {name for name in families if f"`{name}`" not in text} == set()
