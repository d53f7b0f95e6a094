"""Step 4: time limits. Backends enforce ``timeLimit`` themselves (Slurm --time, activeDeadlineSeconds);
this step is the broker's safety net for a backend that did not: a job RUNNING longer than its limit plus
the configured grace is cancelled on its backend and FAILED with the reason."""

from __future__ import annotations

import logging

from dualtrack.adapters.base import BackendError
from dualtrack.broker.domain import JobState
from dualtrack.broker.reconciler.cycle import Cycle
from dualtrack.broker.store import Changes, StaleJob

log = logging.getLogger(__name__)


def enforce_time_limits(cycle: Cycle) -> None:
    grace = cycle.ctx.config.reconciler.time_limit_grace_seconds
    for job in cycle.overdue(grace):  # from the cycle's deadline heap: no pass over every running job
        limit = job.spec.spec.time_limit
        ref = job.backend_ref
        if ref is not None and ref.backend in cycle.ctx.backends:
            try:
                cycle.ctx.backends.get(ref.backend).cancel(ref)
            except BackendError as exc:
                log.warning("time-limit cancel of %s failed (zombie step retries): %s", job.id, exc)
        reason = f"time limit of {limit} s exceeded (enforced by the broker)"
        try:
            cycle.replace(cycle.ctx.store.transition(job, JobState.FAILED, reason, Changes(reason=reason)))
        except StaleJob:
            pass
