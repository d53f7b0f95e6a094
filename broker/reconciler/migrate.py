"""Step 5a: carry out operators' migration requests (``dualtrack migrate``; docs/lifecycle.md, "Migration").

For every job on a backend that carries a ``MigrationRequest`` made for its current attempt:
1. wait until it is due: at once with ``now``, for a job not running yet, or for a job whose checkpoints the
   broker cannot see (``broker.checkpoints``); otherwise once a checkpoint newer than the request exists
   (a YOLO job writes ``last.pt`` every epoch; ``broker.checkpoints``);
2. place attempt n+1 on the target (the named backend, the spec's track preference set aside for it; or any
   other backend). When the target cannot take it now, the job keeps running where it is and the step tries
   again next cycle (the job's reason says why);
3. REROUTING (event: why, and which checkpoint), cancel the current attempt on its backend (the zombie step
   retries a cancel that failed), PLACED on the target as attempt n+1 with the old backend excluded; the
   request is cleared. The new attempt resumes from the run folder the tracks share.
A request for an older attempt (a retry or reroute moved the job meanwhile) is dropped with a note.
"""

from __future__ import annotations

import logging
import time

from dualtrack.adapters.base import Backend, BackendError
from dualtrack.broker.checkpoints import CheckpointsNotVisible, latest_checkpoint
from dualtrack.broker.domain import FilterStatus, Job, JobState, MigrationRequest
from dualtrack.broker.domain.spec import Track
from dualtrack.broker.placement import placement_context
from dualtrack.broker.reconciler.cycle import Cycle
from dualtrack.broker.store import Changes, StaleJob

log = logging.getLogger(__name__)


def migrate_requested(cycle: Cycle) -> None:
    for job in cycle.in_state(JobState.SUBMITTED, JobState.QUEUED, JobState.RUNNING):
        request = job.migration
        if request is None:
            continue
        try:
            if request.attempt != job.attempt:
                cycle.replace(cycle.ctx.store.update(
                    job, f"migration request of attempt {request.attempt} dropped: the job is on attempt "
                         f"{job.attempt} now", Changes(clear_migration=True)))
                continue
            why = due(job, request, _backend_of(cycle, job))
            if why is not None:
                _move(cycle, job, request, why)
        except StaleJob:
            log.info("job %s changed while being migrated", job.id)


def _backend_of(cycle: Cycle, job: Job) -> Backend | None:
    return cycle.ctx.backends.get(job.backend) if job.backend and job.backend in cycle.ctx.backends else None


def due(job: Job, request: MigrationRequest, backend: Backend | None) -> str | None:
    """Why the job moves now, or None while it waits for its next checkpoint."""
    if request.now:
        return "stopped at once (--now)"
    if job.state is not JobState.RUNNING:
        return f"not running yet ({job.state})"
    try:
        checkpoint = latest_checkpoint(job, backend)
    except CheckpointsNotVisible as exc:
        return f"stopped at once: {exc}"
    if checkpoint is None or checkpoint.written_at <= request.requested_at:
        return None
    epoch = f" of epoch {checkpoint.epochs_done}" if checkpoint.epochs_done else ""
    at = time.strftime("%H:%M:%S", time.localtime(checkpoint.written_at))
    return f"after its checkpoint{epoch} ({checkpoint.path.name}, {at})"


def _candidate(cycle: Cycle, job: Job, request: MigrationRequest) -> Job:
    """The job as placement should see it: attempt n+1, the source excluded, and for a named target every
    other backend excluded and the track preference set to the target's track."""
    source = job.backend or ""
    if request.to_backend is None:
        return job.evolve(excluded_backends=(*job.excluded_backends, source), attempt=job.attempt + 1)
    others = tuple(name for name in cycle.ctx.backends.names() if name != request.to_backend)
    spec = job.spec
    track = Track(cycle.ctx.backends.get(request.to_backend).track)
    placement = spec.spec.placement.model_copy(update={"track": track, "backends": []})
    spec = spec.model_copy(update={"spec": spec.spec.model_copy(update={"placement": placement})})
    return job.evolve(spec=spec, excluded_backends=others, attempt=job.attempt + 1)


def _move(cycle: Cycle, job: Job, request: MigrationRequest, why: str) -> None:
    ctx = cycle.ctx
    source = job.backend or ""
    context = placement_context(ctx.backends, cycle.snapshots, cycle.usage(), cycle.now)
    decision = ctx.engine.place(_candidate(cycle, job, request), context)
    wanted = request.to_backend or "another backend"
    if decision.status is not FilterStatus.OK or decision.placement is None:
        reasons = "; ".join(f"{name}: {', '.join(r)}" for name, r in decision.reasons.items()) or "no candidate"
        waiting = f"migration to {wanted} waits: it cannot take the job now ({reasons})"
        if job.reason != waiting:
            cycle.replace(ctx.store.update(job, waiting, Changes(reason=waiting)))
        return
    target = decision.placement.backend
    note = f" ({request.reason})" if request.reason else ""
    rerouting = ctx.store.transition(job, JobState.REROUTING,
                                     f"migrating from {source} to {target}{note}: {why}", Changes(clear_migration=True))
    if job.backend_ref is not None and source in ctx.backends:
        try:
            ctx.backends.get(source).cancel(job.backend_ref)
        except BackendError as exc:
            log.warning("cancel of %s on %s failed; the zombie step will retry: %s", job.id, source, exc)
    reason = f"migrated from {source} to {target}{note}, {why}"
    placed = ctx.store.transition(
        rerouting, JobState.PLACED, f"{reason}; attempt {job.attempt + 1} on {target}",
        Changes(attempt=job.attempt + 1, clear_backend=True, placement=decision.placement,
                explanation=decision.explanation, exclude_backend=source or None, reason=reason),
    )
    ctx.metrics.reroute(source, target, "migrate")
    cycle.replace(placed)
