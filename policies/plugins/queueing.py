"""Filter ``capacityOrQueue``: the ``capacity`` filter, except that a job kept waiting too long in the broker
may queue on a backend that promises it a start time.

The broker normally binds late: a job stays ACCEPTED until its gang fits somewhere now. Under sustained load
that starves wide gangs: narrow jobs keep taking every GPU that frees up. A job that has waited
``queueAfterSeconds`` since it was submitted therefore also passes on a candidate where it does not fit now,
when that backend gave its own start estimate for it this cycle (Slurm's ``sbatch --test-only``). Queued there,
it gets the backend's reservation: its backfill scheduler starts other work around it only if that work does
not delay it. Backends without an estimate (Volcano: no reservations) are never queued on.

    OK                  the gang fits now (as ``capacity``), or it waited >= queueAfterSeconds and the backend
                        estimates its start: "queues: waited 5400 s >= 3600 s; backend expects a start in 820 s"
    UNSCHEDULABLE / UNRESOLVABLE   as ``capacity``

``expectedStart`` then compares the backends' estimates; a candidate that cannot run the job ever is still
UNRESOLVABLE. docs/policies.md lists the key; docs/simulation.md has the measured effect.
"""

from __future__ import annotations

from typing import ClassVar

from dualtrack.broker.domain import FilterStatus, Job
from dualtrack.policies.candidates import Candidate
from dualtrack.policies.config import PolicyConfig
from dualtrack.policies.framework import FilterResult


class CapacityOrQueue:
    name: ClassVar[str] = "capacityOrQueue"
    gate: ClassVar[bool] = False

    def __init__(self, config: PolicyConfig):
        self.after = config.queue_after_seconds

    def filter(self, job: Job, candidate: Candidate) -> FilterResult:
        fit = candidate.fit()
        if fit.status is FilterStatus.OK:
            return FilterResult.ok(f"fits in {fit.tier} tier ({fit.gpu_type})")
        if fit.status is FilterStatus.UNSCHEDULABLE and self.after is not None:
            ctx = candidate.session.ctx
            waited = ctx.now - job.created_at
            estimate = ctx.start_estimates.get((job.id, candidate.backend))
            if waited >= self.after and estimate is not None:
                return FilterResult.ok(f"queues: waited {waited:.0f} s >= {self.after:g} s; backend expects a "
                                       f"start in {max(0.0, estimate - ctx.now):.0f} s")
        return FilterResult(fit.status, fit.reason)
