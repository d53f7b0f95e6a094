"""Step 5: reroute jobs stuck in a backend's queue.

A job pending (SUBMITTED or QUEUED) longer than its ``reroute.pendingTimeout`` (or the configured default)
moves when another backend can start it now: it is cancelled where it waits (if that backend answers; if it
is down, the zombie step cancels the old attempt once it returns), passes through REROUTING and is PLACED on
the other backend as attempt n+1, the old backend excluded. A YOLO job that already trained resumes from its
checkpoint on the new track when its ``project`` path is shared (``resume`` is set by the adapter's command).

A job on a backend that has been down for ``reconciler.downRerouteAfter`` (SUBMITTED, QUEUED or RUNNING:
its attempt is lost to the broker, whatever it is doing) moves the same way; the old attempt is cancelled by
the zombie step when the backend returns, and a YOLO job resumes from its last checkpoint on the new track.

REROUTING is a step of one cycle (REROUTING -> PLACED right after the cancel). A job found in REROUTING at
the start of a cycle was left there by a crash: its old attempt is cancelled again (idempotent) and it goes
back to ACCEPTED as attempt n+1 with the old backend excluded, so the placement step places it again.
"""

from __future__ import annotations

import logging

from dualtrack.adapters.base import BackendError
from dualtrack.broker.domain import FilterStatus, Job, JobState
from dualtrack.broker.placement import placement_context
from dualtrack.broker.reconciler.cycle import Cycle
from dualtrack.broker.store import Changes, StaleJob

log = logging.getLogger(__name__)


def pending_timeout(cycle: Cycle, job: Job) -> int | None:
    return job.spec.spec.reroute.pending_timeout or cycle.ctx.config.reconciler.default_pending_timeout


def reroute_stuck(cycle: Cycle) -> None:
    for job in cycle.in_state(JobState.REROUTING):
        try:
            _resume_interrupted(cycle, job)
        except StaleJob:
            log.info("job %s changed while its reroute was resumed", job.id)
    for job in cycle.in_state(JobState.SUBMITTED, JobState.QUEUED):
        timeout = pending_timeout(cycle, job)
        if timeout is None or cycle.now - job.state_since < timeout or job.backend is None:
            continue
        try:
            _reroute(cycle, job, f"pending on {job.backend} for more than {timeout} s", "pending_timeout")
        except StaleJob:
            log.info("job %s changed while being rerouted", job.id)
    _reroute_stranded(cycle)


def _reroute_stranded(cycle: Cycle) -> None:
    """Jobs on a backend down for longer than ``downRerouteAfter`` move elsewhere (see the module docstring)."""
    after = cycle.ctx.config.reconciler.down_reroute_after
    if after is None:
        return
    health = cycle.ctx.snapshots.health()
    for job in cycle.in_state(JobState.SUBMITTED, JobState.QUEUED, JobState.RUNNING):
        state = health.get(job.backend or "")
        if job.backend is None or state is None or state.up or cycle.now - state.since < after:
            continue
        try:
            _reroute(cycle, job, f"{job.backend} has been down for more than {after} s ({state.last_error})",
                     "backend_down")
        except StaleJob:
            log.info("job %s changed while being rerouted", job.id)


def _reroute(cycle: Cycle, job: Job, why: str, metric_reason: str) -> None:
    ctx = cycle.ctx
    source = job.backend or ""
    excluded = job.evolve(excluded_backends=(*job.excluded_backends, source), attempt=job.attempt + 1)
    context = placement_context(ctx.backends, cycle.snapshots, cycle.usage(), cycle.now)
    decision = ctx.engine.place(excluded, context)
    if decision.status is not FilterStatus.OK or decision.placement is None:
        return  # nowhere better to go now: keep waiting where it is
    rerouting = ctx.store.transition(job, JobState.REROUTING, f"{why}; moving to {decision.placement.backend}")
    if job.backend_ref is not None and source in ctx.backends:
        try:
            ctx.backends.get(source).cancel(job.backend_ref)
        except BackendError as exc:
            log.warning("cancel of %s on %s failed; the zombie step will retry: %s", job.id, source, exc)
    placed = ctx.store.transition(
        rerouting, JobState.PLACED, f"rerouted from {source} to {decision.placement.backend}",
        Changes(attempt=job.attempt + 1, clear_backend=True, placement=decision.placement,
                explanation=decision.explanation, exclude_backend=source, reason=why),
    )
    ctx.metrics.reroute(source, decision.placement.backend, metric_reason)
    cycle.replace(placed)


def _resume_interrupted(cycle: Cycle, job: Job) -> None:
    ctx = cycle.ctx
    source = job.backend or ""
    if job.backend_ref is not None and source in ctx.backends:
        try:
            ctx.backends.get(source).cancel(job.backend_ref)
        except BackendError as exc:
            log.warning("cancel of %s on %s failed; the zombie step will retry: %s", job.id, source, exc)
    why = f"reroute from {source or 'its backend'} interrupted (broker restart); placing attempt {job.attempt + 1}"
    cycle.replace(ctx.store.transition(
        job, JobState.ACCEPTED, why,
        Changes(attempt=job.attempt + 1, clear_backend=True, exclude_backend=source or None, reason=why)))
