"""Filter ``capacityOrQueue``: a job kept waiting long enough may queue where the backend estimates its start."""

from __future__ import annotations

from dualtrack.broker.domain import FilterStatus
from dualtrack.policies import PlacementEngine, PolicyConfig
from tests.unit.policies.builders import context, make_job, rack, snapshot


def engine(after: float | None = 3600.0) -> PlacementEngine:
    return PlacementEngine(PolicyConfig.from_mapping({"profile": "queueing", "queueAfterSeconds": after}))


def full_cluster_context(now: float, estimates: dict[tuple[str, str], float]):  # type: ignore[no-untyped-def]
    return context(snapshot("slurm-a", "slurm", rack("s", 2, free=0)),
                   snapshot("kube-b", "volcano", rack("k", 2, free=0)), estimates=estimates, now=now)


def test_a_job_waiting_long_enough_queues_on_the_backend_that_estimates_its_start() -> None:
    """Both backends are full. The job was submitted at 0; at 4000 s (>= 3600) Slurm estimates a start at
    4800 s: it is placed there (Kubernetes gives no estimate, so it is not queued on)."""
    job = make_job("wide", workers=2, gpus=8, created_at=0.0)
    decision = engine().place(job, full_cluster_context(4000.0, {("wide", "slurm-a"): 4800.0}))
    assert decision.status is FilterStatus.OK
    assert decision.placement is not None and decision.placement.backend == "slurm-a"
    assert "queues: waited 4000 s >= 3600 s; backend expects a start in 800 s" in str(decision.explanation)


def test_a_young_job_or_one_without_estimate_keeps_waiting_in_the_broker() -> None:
    job = make_job("wide", workers=2, gpus=8, created_at=0.0)
    young = engine().place(job, full_cluster_context(1000.0, {("wide", "slurm-a"): 4800.0}))
    assert young.status is FilterStatus.UNSCHEDULABLE
    no_estimate = engine().place(job, full_cluster_context(4000.0, {}))
    assert no_estimate.status is FilterStatus.UNSCHEDULABLE
    never = engine(None).place(job, full_cluster_context(9999.0, {("wide", "slurm-a"): 10_000.0}))
    assert never.status is FilterStatus.UNSCHEDULABLE


def test_queue_after_seconds_is_validated() -> None:
    import pytest

    with pytest.raises(ValueError, match=r"policies\.queueAfterSeconds: must be >= 0"):
        PolicyConfig.from_mapping({"queueAfterSeconds": -1})
