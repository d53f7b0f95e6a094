"""Glue between the broker and ``policies/``: builds the PlacementContext a decision reads.

Callers: the submit and explain handlers (one job, the cached snapshots) and the reconciler's placement
step (a batch, fresh snapshots). Pure over its inputs apart from reading the context's caches.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dualtrack.adapters.registry import BackendRegistry
from dualtrack.broker.domain import ClusterSnapshot, Job, JobState
from dualtrack.policies import BackendInfo, PlacementContext, TenantUsage

# States in which a job holds (or is promised) GPUs on a backend: they count against quotas.
HOLDING_STATES = frozenset({JobState.PLACED, JobState.SUBMITTED, JobState.QUEUED, JobState.RUNNING,
                            JobState.REROUTING})


def backend_infos(backends: BackendRegistry) -> dict[str, BackendInfo]:
    return {
        # getattr answers what isinstance against the runtime-checkable ImageConsumer / DatasetMounter protocols
        # answers (an attribute of that name), without their per-call cost: this runs at every placement
        b.name: BackendInfo(name=b.name, track=b.track, kind=b.kind, unsupported=dict(b.unsupported),
                            converts_images=getattr(b, "needs_sif", None),
                            datasets=getattr(b, "mountable_datasets", None))
        for b in backends
    }


def usage_of(jobs: Iterable[Job]) -> TenantUsage:
    """GPUs and running jobs per tenant over both tracks, from the jobs that hold capacity."""
    gpus: dict[str, int] = {}
    running: dict[str, int] = {}
    for job in jobs:
        if job.state in HOLDING_STATES:
            gpus[job.tenant] = gpus.get(job.tenant, 0) + job.spec.spec.resources.total_gpus
            running[job.tenant] = running.get(job.tenant, 0) + 1
    return TenantUsage(gpus=gpus, running_jobs=running)


def placement_context(
    backends: BackendRegistry,
    snapshots: Mapping[str, ClusterSnapshot],
    usage: TenantUsage,
    now: float,
    start_estimates: Mapping[tuple[str, str], float] | None = None,
) -> PlacementContext:
    return PlacementContext(
        now=now,
        snapshots=dict(snapshots),
        backends=backend_infos(backends),
        usage=usage,
        start_estimates=dict(start_estimates or {}),
    )
