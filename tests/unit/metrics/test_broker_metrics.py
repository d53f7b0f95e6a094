"""BrokerMetrics: values recorded, series exported at zero, snapshots published, bad outcomes refused."""

from __future__ import annotations

import urllib.request

import pytest

from dualtrack.adapters.inmemory import InMemoryBackend
from dualtrack.broker.domain import ClusterSnapshot, NodeCapacity, PoolCapacity
from dualtrack.broker.metrics import BrokerMetrics


def value(metrics: BrokerMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_each_instance_has_its_own_registry() -> None:
    first, second = BrokerMetrics(), BrokerMetrics()
    first.submission("team-a", "accepted")
    assert value(first, "dualtrack_submissions_total", tenant="team-a", outcome="accepted") == 1
    assert value(second, "dualtrack_submissions_total", tenant="team-a", outcome="accepted") is None


def test_a_new_tenant_gets_every_submission_outcome_at_zero() -> None:
    metrics = BrokerMetrics()
    metrics.submission("team-a", "invalid")
    metrics.submission("team-a", "invalid")
    assert value(metrics, "dualtrack_submissions_total", tenant="team-a", outcome="invalid") == 2
    for outcome in ("accepted", "rejected", "duplicate"):
        assert value(metrics, "dualtrack_submissions_total", tenant="team-a", outcome=outcome) == 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.submission("t", "ok"), "outcome: 'ok' is not one of accepted"),
        (lambda m: m.placement("b", "maybe"), "outcome: 'maybe' is not one of placed"),
        (lambda m: m.job_finished("b", "RUNNING", 1.0), "state: 'RUNNING' is not one of SUCCEEDED"),
        (lambda m: m.image_conversion(1.0, "done"), "outcome: 'done' is not one of success"),
    ],
)
def test_an_outcome_outside_its_vocabulary_names_the_field(call, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        call(BrokerMetrics())


def test_a_backend_named_once_exports_its_series_at_zero() -> None:
    metrics = BrokerMetrics()
    metrics.register_backend("slurm-a")
    metrics.register_backend("kube-a")
    assert value(metrics, "dualtrack_placement_decisions_total", backend="slurm-a", outcome="placed") == 0
    assert value(metrics, "dualtrack_placement_decisions_total", backend="", outcome="unschedulable") == 0
    assert value(metrics, "dualtrack_scheduling_latency_seconds_count", backend="kube-a") == 0
    assert value(metrics, "dualtrack_queue_wait_seconds_count", backend="kube-a") == 0
    assert value(metrics, "dualtrack_job_duration_seconds_count", backend="kube-a", state="FAILED") == 0
    assert value(metrics, "dualtrack_retries_total", backend="slurm-a", reason="infra") == 0
    assert value(metrics, "dualtrack_reroutes_total", source="slurm-a", target="kube-a",
                 reason="pending_timeout") == 0
    assert value(metrics, "dualtrack_reroutes_total", source="kube-a", target="slurm-a",
                 reason="backend_down") == 0


def test_timings_land_in_their_histograms() -> None:
    metrics = BrokerMetrics()
    metrics.scheduling_latency("kube-a", 12.0)
    metrics.scheduling_latency("kube-a", 0.3)
    metrics.queue_wait("kube-a", 42.0)
    metrics.job_finished("kube-a", "SUCCEEDED", 3600.0)
    assert value(metrics, "dualtrack_scheduling_latency_seconds_count", backend="kube-a") == 2
    assert value(metrics, "dualtrack_scheduling_latency_seconds_bucket", backend="kube-a", le="10.0") == 1
    assert value(metrics, "dualtrack_queue_wait_seconds_sum", backend="kube-a") == 42.0
    assert value(metrics, "dualtrack_job_duration_seconds_count", backend="kube-a", state="SUCCEEDED") == 1


def test_free_text_reasons_fold_into_other() -> None:
    metrics = BrokerMetrics()
    metrics.reroute("slurm-a", "kube-a", "pending_timeout")
    metrics.reroute("slurm-a", "kube-a", "the moon was full")
    metrics.retry("slurm-a", "infra")
    metrics.retry("slurm-a", "weird")
    assert value(metrics, "dualtrack_reroutes_total", source="slurm-a", target="kube-a",
                 reason="pending_timeout") == 1
    assert value(metrics, "dualtrack_reroutes_total", source="slurm-a", target="kube-a", reason="other") == 1
    assert value(metrics, "dualtrack_retries_total", backend="slurm-a", reason="other") == 1
    assert value(metrics, "dualtrack_retries_total", backend="slurm-a", reason="infra") == 1


def test_reconciler_steps_and_images() -> None:
    metrics = BrokerMetrics()
    assert value(metrics, "dualtrack_reconciler_errors_total", step="zombies") == 0
    metrics.reconciler_step("observe", 0.02, error=False)
    metrics.reconciler_step("observe", 0.5, error=True)
    metrics.image_conversion(95.0, "success")
    metrics.image_cache_hit()
    assert value(metrics, "dualtrack_reconciler_cycle_seconds_count", step="observe") == 2
    assert value(metrics, "dualtrack_reconciler_errors_total", step="observe") == 1
    assert value(metrics, "dualtrack_image_conversions_total", outcome="success") == 1
    assert value(metrics, "dualtrack_image_conversions_total", outcome="failure") == 0
    assert value(metrics, "dualtrack_image_conversion_seconds_sum") == 95.0
    assert value(metrics, "dualtrack_image_cache_hits_total") == 1


def _snapshot(backend: str, *, h100_free: int, pools: tuple[PoolCapacity, ...]) -> ClusterSnapshot:
    nodes = (
        NodeCapacity("n1", "h100", gpus_total=8, gpus_free=h100_free),
        NodeCapacity("n2", "l40s", gpus_total=4, gpus_free=4),
        NodeCapacity("n3", "l40s", gpus_total=4, gpus_free=0, schedulable=False),  # drained: not counted
    )
    return ClusterSnapshot(backend=backend, kind="volcano", taken_at=1000.0, nodes=nodes, pools=pools,
                           running_jobs=3)


def test_a_snapshot_publishes_gpus_per_type_and_pending_per_pool() -> None:
    metrics = BrokerMetrics()
    pools = (PoolCapacity("research", "queue", pending_jobs=2, pending_gpus=16),
             PoolCapacity("prod", "queue"))
    metrics.observe_snapshot(_snapshot("kube-a", h100_free=3, pools=pools))
    assert value(metrics, "dualtrack_backend_up", backend="kube-a") == 1
    assert value(metrics, "dualtrack_gpus", backend="kube-a", gpu_type="h100", state="total") == 8
    assert value(metrics, "dualtrack_gpus", backend="kube-a", gpu_type="h100", state="allocated") == 5
    assert value(metrics, "dualtrack_gpus", backend="kube-a", gpu_type="h100", state="free") == 3
    assert value(metrics, "dualtrack_gpus", backend="kube-a", gpu_type="l40s", state="total") == 4
    assert value(metrics, "dualtrack_pending_jobs", backend="kube-a", pool="research") == 2
    assert value(metrics, "dualtrack_pending_gpus", backend="kube-a", pool="research") == 16
    assert value(metrics, "dualtrack_pending_jobs", backend="kube-a", pool="prod") == 0
    assert value(metrics, "dualtrack_backend_running_jobs", backend="kube-a") == 3
    assert value(metrics, "dualtrack_backend_snapshot_timestamp_seconds", backend="kube-a") == 1000.0


def test_pools_that_disappear_are_removed_and_a_down_backend_keeps_its_last_capacity() -> None:
    metrics = BrokerMetrics()
    metrics.observe_snapshot(_snapshot("kube-a", h100_free=3, pools=(PoolCapacity("research", "queue"),)))
    metrics.observe_snapshot(_snapshot("kube-a", h100_free=8, pools=(PoolCapacity("prod", "queue"),)))
    assert value(metrics, "dualtrack_pending_jobs", backend="kube-a", pool="research") is None
    assert value(metrics, "dualtrack_pending_jobs", backend="kube-a", pool="prod") == 0
    metrics.observe_snapshot(ClusterSnapshot.down("kube-a", "volcano", 2000.0, "connection refused"))
    assert value(metrics, "dualtrack_backend_up", backend="kube-a") == 0
    assert value(metrics, "dualtrack_gpus", backend="kube-a", gpu_type="h100", state="free") == 8


def test_job_counts_are_read_at_scrape_time_with_every_state_present() -> None:
    metrics = BrokerMetrics()
    rows = [("RUNNING", "slurm-a", "team-a", 2)]
    metrics.set_job_counts_source(lambda: rows)
    assert value(metrics, "dualtrack_jobs", state="RUNNING", backend="slurm-a", tenant="team-a") == 2
    assert value(metrics, "dualtrack_jobs", state="QUEUED", backend="slurm-a", tenant="team-a") == 0
    rows[0] = ("SUCCEEDED", "slurm-a", "team-a", 2)
    assert value(metrics, "dualtrack_jobs", state="RUNNING", backend="slurm-a", tenant="team-a") == 0
    assert value(metrics, "dualtrack_jobs", state="SUCCEEDED", backend="slurm-a", tenant="team-a") == 2


def test_a_failing_job_counts_source_does_not_break_the_scrape() -> None:
    metrics = BrokerMetrics()

    def broken() -> list[tuple[str, str, str, int]]:
        raise RuntimeError("database is locked")

    metrics.set_job_counts_source(broken)
    metrics.submission("t", "accepted")
    assert value(metrics, "dualtrack_submissions_total", tenant="t", outcome="accepted") == 1
    assert value(metrics, "dualtrack_jobs", state="RUNNING", backend="", tenant="t") is None


def test_an_in_memory_backend_snapshot_is_published() -> None:
    metrics = BrokerMetrics()
    metrics.observe_snapshot(InMemoryBackend("slurm-a", nodes=2, gpus_per_node=4, gpu_type="a100").snapshot())
    assert value(metrics, "dualtrack_gpus", backend="slurm-a", gpu_type="a100", state="total") == 8
    assert value(metrics, "dualtrack_pending_jobs", backend="slurm-a", pool="default") == 0


def test_serve_exposes_metrics_on_loopback_and_close_is_idempotent() -> None:
    metrics = BrokerMetrics()
    metrics.submission("team-a", "accepted")
    port = metrics.serve("127.0.0.1", 0)
    assert metrics.serve("127.0.0.1", 0) == port
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            body = response.read().decode()
        assert 'dualtrack_submissions_total{outcome="accepted",tenant="team-a"} 1.0' in body
    finally:
        metrics.close()
        metrics.close()
